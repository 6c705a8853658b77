"""What the UI reads and asks: segments, one customer, briefs, the agent.

One object per app, built from the settings; every method returns plain data
or raises a UserInputError / InfrastructureError whose message says what to do
next (the page shows it). The LLM is looked up lazily, so the Segments and
Customer tabs work while it is down.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from segassist.core.errors import UserInputError
from segassist.warehouse.queries import (
    AudienceCriteria,
    customer_profile,
    customer_reviews,
    has_customers,
    list_segments,
    segment_probabilities,
    serving_version_id,
)
from segassist.warehouse.records import CustomerProfile, CustomerReview, Segment
from sqlalchemy import Engine

if TYPE_CHECKING:
    from segassist.training.explain import Explanation

NOT_TRAINED = (
    "No segments yet: the segmenter has not been trained on this database. Run "
    "'segassist train' then 'segassist score' (or 'make demo'), then reload this page."
)
EMPTY_DATABASE = (
    "The database has no customers yet. Import data first, e.g. "
    "'segassist import amazon reviews_Musical_Instruments_5.json.gz' (see the README)."
)


@dataclass
class AssistantStartup:
    """What a background start of the LLM is doing (the demo's UI comes up before it ends):
    the chat shows `stage` and enables itself when `ready`."""

    stage: str = "starting"
    ready: bool = False
    failed: str | None = None
    started: float = field(default_factory=time.monotonic)

    def status(self) -> str:
        """One line for the chat: what is happening and for how long, or what went wrong."""
        if self.failed:
            return f"The assistant could not start: {self.failed}"
        if self.ready:
            return ""
        minutes = (time.monotonic() - self.started) / 60
        waited = f"{minutes:.0f} min so far" if minutes >= 1 else "under a minute so far"
        return (
            f"The assistant is still starting ({self.stage}; {waited}). The "
            "Segments, Customer and Campaign brief tabs work now; the chat turns on by itself."
        )


@dataclass
class CustomerView:
    """Everything the Customer explainer shows."""

    customer_id: str
    facts: Explanation
    probabilities: list[float]
    segment_names: dict[int, str]
    profile: CustomerProfile | None
    reviews: list[CustomerReview]
    template_text: str


class Services:
    """The UI's access to the warehouse, the review index, the segmenter and the LLM."""

    def __init__(
        self,
        engine: Engine,
        index,
        llm_url: str,
        exports_dir: Path,
        llm_record: Path | None = None,
        startup: AssistantStartup | None = None,
        examples: bool = False,
    ) -> None:
        self.engine = engine
        self.startup = startup  # set while the LLM starts in the background
        self.index = index
        self.llm_url = llm_url
        self.exports_dir = exports_dir
        self.llm_record = llm_record  # a background server to restart once if it dies
        self.examples = examples  # the agent's verified SQL examples (settings.agent_examples)
        self._agent = None
        self._lock = threading.Lock()
        self._facts: dict[str, object] = {}  # last explanations, for the LLM's second pass

    # --- segments -------------------------------------------------------------------

    def _version(self) -> str:
        version = serving_version_id(self.engine)
        if version is not None:
            return version
        raise UserInputError(NOT_TRAINED if has_customers(self.engine) else EMPTY_DATABASE)

    def segments(self) -> list[Segment]:
        """Every segment of the serving model with its profile."""
        segments = list_segments(self.engine, self._version())
        if not segments:
            raise UserInputError(NOT_TRAINED)
        return segments

    def segment(self, segment_id: int) -> Segment:
        """One segment (a clear error for an unknown id)."""
        by_id = {s.segment_id: s for s in self.segments()}
        if segment_id not in by_id:
            raise UserInputError(f"No segment {segment_id}; segments are {sorted(by_id)}.")
        return by_id[segment_id]

    def export_segment(self, segment_id: int) -> Path:
        """The segment's audience as a CSV file (the agent's export, same format)."""
        from segassist.tools.export import export_audience

        self.segment(segment_id)
        criteria = AudienceCriteria(segment_id=segment_id)
        return export_audience(self.engine, self.exports_dir, criteria).path

    # --- one customer ---------------------------------------------------------------

    def customer(self, customer_id: str) -> CustomerView:
        """The facts of one customer's membership, their reviews and a template explanation."""
        from segassist.tools.writing import explanation_text
        from segassist.training.explain import explain_membership

        customer_id = (customer_id or "").strip()
        if not customer_id:
            raise UserInputError("Type a customer id, e.g. one from the Segments tab's map.")
        version = self._version()
        facts = explain_membership(self.engine, customer_id, index=self.index)
        text, _ = explanation_text(facts, None)
        with self._lock:
            if len(self._facts) > 256:
                self._facts.clear()
            self._facts[customer_id] = facts
        return CustomerView(
            customer_id=customer_id,
            facts=facts,
            probabilities=segment_probabilities(self.engine, customer_id, version),
            segment_names={s.segment_id: s.name for s in self.segments()},
            profile=customer_profile(self.engine, customer_id),
            reviews=customer_reviews(self.engine, customer_id),
            template_text=text,
        )

    def written_explanation(self, customer_id: str, language: str) -> tuple[str, str]:
        """(text, "llm" | "template") for a customer, asking the LLM when it answers."""
        from segassist.tools.writing import explanation_text
        from segassist.training.explain import explain_membership

        facts = self._facts.get(customer_id) or explain_membership(
            self.engine, customer_id, index=self.index
        )
        return explanation_text(facts, self._writer(), language)

    # --- briefs ---------------------------------------------------------------------

    def brief(self, segment_id: int, goal: str, channel: str, language: str, use_llm: bool):
        """(Markdown, "llm" | "template") campaign brief for a segment."""
        from segassist.tools.writing import campaign_brief

        segment = self.segment(segment_id)
        writer = self._writer() if use_llm else None
        return campaign_brief(segment, goal or "retention", channel or "email", writer, language)

    def warm_up(self) -> None:
        """Load what the first page view would otherwise wait for (the figures library,
        the serving model); errors are left for the page to report."""
        try:
            import plotly.express  # noqa: F401
            from segassist.training.registry import load_serving

            load_serving(self.engine)
        except Exception:
            pass

    # --- the LLM and the agent -------------------------------------------------------

    def _writer(self):
        """A text writer on the LLM, or None when no server answers (templates are used)."""
        from segassist.agent.client import LLMUnavailableError, make_chat_model, text_writer

        try:
            return text_writer(make_chat_model(self.llm_url, timeout_s=120))
        except LLMUnavailableError:
            return None

    def recover_llm(self) -> str | None:
        """Restart the recorded LLM server if it died (once): what happened, or None when
        there was nothing to restart. Raises LLMUnavailableError saying what to do when
        it died again."""
        from segassist.agent.serving import recover_server

        if self.llm_record is None:
            return None
        with self._lock:
            recovered = recover_server(self.llm_record)
        return recovered[0] if recovered else None

    def assistant_status(self) -> tuple[bool, str]:
        """(whether the chat can be used, the line to show about it)."""
        if self.startup is None:
            return True, ""
        return self.startup.ready, self.startup.status()

    def agent(self):
        """The agent (built on first use; LLMUnavailableError says how to start the server)."""
        from segassist.agent.client import check_server, make_chat_model
        from segassist.agent.loop import build_agent

        self.recover_llm()
        with self._lock:
            if self._agent is None:
                check_server(self.llm_url)  # a clear message if none answers
                self._agent = build_agent(
                    self.engine,
                    make_chat_model(self.llm_url),
                    self.index,
                    self.exports_dir,
                    examples=self.examples,
                )
        return self._agent
