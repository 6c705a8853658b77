"""What the UI reads and asks: segments, one customer, briefs, the agent.

One object per app, built from the settings; every method returns plain data
or raises a UserInputError / InfrastructureError whose message says what to do
next (the page shows it). The LLM is looked up lazily, so the Segments and
Customer tabs work while it is down.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from segassist.errors import UserInputError

NOT_TRAINED = (
    "No segments yet: the segmenter has not been trained on this database. Run "
    "'segassist train' then 'segassist score' (or 'make demo'), then reload this page."
)
EMPTY_DATABASE = (
    "The database has no customers yet. Import data first, e.g. "
    "'segassist import amazon reviews_Musical_Instruments_5.json.gz' (see the README)."
)


@dataclass
class CustomerView:
    """Everything the Customer explainer shows."""

    customer_id: str
    facts: dict  # training.explain.Explanation as a dict
    probabilities: list[float]
    segment_names: dict[int, str]
    profile: dict
    reviews: list[dict]
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
    ) -> None:
        self.engine = engine
        self.index = index
        self.llm_url = llm_url
        self.exports_dir = exports_dir
        self.llm_record = llm_record  # a background server to restart once if it dies
        self._agent = None
        self._lock = threading.Lock()
        self._facts: dict[str, object] = {}  # last explanations, for the LLM's second pass

    # --- segments -------------------------------------------------------------------

    def _version(self) -> str:
        from training.registry import serving_version
        from warehouse.schema import Customer

        row = serving_version(self.engine)
        if row is not None:
            return row.version
        with self.engine.connect() as conn:
            if conn.execute(select(Customer.customer_id).limit(1)).first() is None:
                raise UserInputError(EMPTY_DATABASE)
        raise UserInputError(NOT_TRAINED)

    def segments(self) -> list[dict]:
        """Every segment of the serving model with its stored profile."""
        from tools.catalogue import _segments

        version = self._version()
        rows = _segments(self.engine, version)
        if not rows:
            raise UserInputError(NOT_TRAINED)
        return [
            {"segment_id": r.segment_id, "name": r.name, "size": r.size, "profile": r.profile}
            for r in rows
        ]

    def segment(self, segment_id: int) -> dict:
        """One segment (a clear error for an unknown id)."""
        by_id = {s["segment_id"]: s for s in self.segments()}
        if segment_id not in by_id:
            raise UserInputError(f"No segment {segment_id}; segments are {sorted(by_id)}.")
        return by_id[segment_id]

    def export_segment(self, segment_id: int) -> Path:
        """The segment's audience as a CSV file (the agent's export tool, same format)."""
        from tools.catalogue import ToolContext, _export_audience

        self.segment(segment_id)
        _, payload = _export_audience(ToolContext(self.engine, None, self.exports_dir))(
            segment_id=segment_id
        )
        return Path(payload["path"])

    # --- one customer ---------------------------------------------------------------

    def customer(self, customer_id: str) -> CustomerView:
        """The facts of one customer's membership, their reviews and a template explanation."""
        from agent.writing import explanation_text
        from tools.catalogue import ToolContext, _customer_profile
        from training.explain import explain_membership
        from warehouse.schema import CustomerScore, Review

        customer_id = (customer_id or "").strip()
        if not customer_id:
            raise UserInputError("Type a customer id, e.g. one from the Segments tab's map.")
        version = self._version()
        facts = explain_membership(self.engine, customer_id, index=self.index)
        _, profile = _customer_profile(ToolContext(self.engine, None, self.exports_dir))(
            customer_id
        )
        with self.engine.connect() as conn:
            probabilities = conn.execute(
                select(CustomerScore.probabilities).where(
                    CustomerScore.customer_id == customer_id,
                    CustomerScore.model_version == version,
                )
            ).scalar_one_or_none()
            reviews = (
                conn.execute(
                    select(Review.reviewed_at, Review.rating, Review.title, Review.text)
                    .where(Review.customer_id == customer_id)
                    .order_by(Review.reviewed_at.desc())
                    .limit(20)
                )
                .mappings()
                .all()
            )
        names = {s["segment_id"]: s["name"] for s in self.segments()}
        text, _ = explanation_text(facts, None)
        with self._lock:
            if len(self._facts) > 256:
                self._facts.clear()
            self._facts[customer_id] = facts
        return CustomerView(
            customer_id=customer_id,
            facts=facts.to_dict(),
            probabilities=list(probabilities or []),
            segment_names=names,
            profile=profile.get("profile", {}),
            reviews=[dict(r) for r in reviews],
            template_text=text,
        )

    def written_explanation(self, customer_id: str, language: str) -> tuple[str, str]:
        """(text, "llm" | "template") for a customer, asking the LLM when it answers."""
        from agent.writing import explanation_text
        from training.explain import explain_membership

        facts = self._facts.get(customer_id) or explain_membership(
            self.engine, customer_id, index=self.index
        )
        return explanation_text(facts, self._writer(), language)

    # --- briefs ---------------------------------------------------------------------

    def brief(self, segment_id: int, goal: str, channel: str, language: str, use_llm: bool):
        """(Markdown, "llm" | "template") campaign brief for a segment."""
        from agent.writing import campaign_brief
        from tools.catalogue import _segments

        self.segment(segment_id)
        row = next(r for r in _segments(self.engine, self._version()) if r.segment_id == segment_id)
        writer = self._writer() if use_llm else None
        return campaign_brief(row, goal or "retention", channel or "email", writer, language)

    def warm_up(self) -> None:
        """Load what the first page view would otherwise wait for (the figures library,
        the serving model); errors are left for the page to report."""
        try:
            import plotly.express  # noqa: F401

            from training.registry import load_serving

            load_serving(self.engine)
        except Exception:
            pass

    # --- the LLM and the agent -------------------------------------------------------

    def _writer(self):
        """A text writer on the LLM, or None when no server answers (templates are used)."""
        from agent.serving import LLMUnavailableError, make_chat_model, text_writer

        try:
            return text_writer(make_chat_model(self.llm_url, timeout_s=120))
        except LLMUnavailableError:
            return None

    def recover_llm(self) -> str | None:
        """Restart the recorded LLM server if it died (once): what happened, or None when
        there was nothing to restart. Raises LLMUnavailableError saying what to do when
        it died again."""
        from agent.serving import recover_server

        if self.llm_record is None:
            return None
        with self._lock:
            recovered = recover_server(self.llm_record)
        return recovered[0] if recovered else None

    def agent(self):
        """The agent (built on first use; LLMUnavailableError says how to start the server)."""
        from agent.loop import build_agent
        from agent.serving import check_server, make_chat_model

        self.recover_llm()
        with self._lock:
            if self._agent is None:
                check_server(self.llm_url)  # a clear message if none answers
                self._agent = build_agent(
                    self.engine, make_chat_model(self.llm_url), self.index, self.exports_dir
                )
        return self._agent
