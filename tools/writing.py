"""Explanations and campaign briefs: LLM-written from facts, or a template from the same facts.

Every text says who wrote it ("llm" or "template"). The template is used when
no LLM is configured, when it fails, or when its answer is unusable (empty, or
missing the numbers it was given).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources

from segassist.training.explain import Explanation
from segassist.warehouse.records import Segment, expected_value

WriteText = Callable[[str, str], str | None]

LANGUAGE_NAMES = {"en": "English", "pt": "Portuguese", "zh": "Chinese (简体中文)"}


def language_of(text: str) -> str:
    """The language name to write in for a question (English when unsure)."""
    from segassist.warehouse.language import detect_language

    return LANGUAGE_NAMES.get(detect_language(text, default="en"), "English")


def prompt(name: str) -> str:
    """A writer's prompt template, shipped in tools/prompts/."""
    return resources.files("segassist.tools.prompts").joinpath(f"{name}.md").read_text("utf-8")


def _usable(text: str | None, required_numbers: list[str]) -> bool:
    """The LLM's text is non-trivial and keeps the key figures it was given."""
    if not text or len(text.strip()) < 40:
        return False
    return all(number in text for number in required_numbers)


def _percent(value: float) -> str:
    return f"{value:.0%}"


def explanation_facts(facts: Explanation) -> str:
    """The explanation's facts (its one formatter), the customer's words masked and
    bounded: what the LLM and the template both write from."""
    from segassist.tools.text import quote_customer_text

    return "\n".join(facts.facts(lambda text: quote_customer_text(text, 200)))


def explanation_text(
    facts: Explanation, write_text: WriteText | None, language: str = "English"
) -> tuple[str, str]:
    """(text, "llm" | "template") explaining the membership, written in `language`."""
    listed = explanation_facts(facts)
    if write_text is not None:
        try:
            written = write_text(prompt("explain").format(language=language, facts=listed), listed)
        except Exception:  # any LLM failure falls back to the template below
            written = None
        if _usable(written, [_percent(facts.probability)]):
            return written.strip(), "llm"
    return _explanation_template(facts, listed), "template"


def _explanation_template(facts: Explanation, listed: str) -> str:
    """The explanation in sentences: segment, the two or three drivers with percentiles,
    churn, value, and the customer's own words."""
    head = f'{facts.customer_id} is in "{facts.segment_name}" ({_percent(facts.probability)} likely'
    head += (
        f'; next closest "{facts.runner_up_name}" at {_percent(facts.runner_up_probability)}).'
        if facts.runner_up_name
        else ")."
    )
    sentences = [head]
    reasons = [d.sentence() for d in facts.drivers[:3]]
    if reasons:
        joined = (
            reasons[0] if len(reasons) == 1 else ", ".join(reasons[:-1]) + f" and {reasons[-1]}"
        )
        sentences.append(f"Compared with all customers, this customer {joined}.")
    if facts.text_effect is not None and facts.text_effect > 0:
        sentences.append("What they write in their reviews points to this segment too.")
    churn = f"Their churn risk is {_percent(facts.churn_risk)}"
    if facts.churn_drivers:
        churn += f", raised most by their {facts.churn_drivers[0].group}"
    sentences.append(churn + ".")
    value = expected_value(facts.value_estimate, facts.value_unit, facts.horizon_days)
    sentences.append(value[0].upper() + value[1:] + ".")
    text = " ".join(sentences)
    quotes = [line for line in listed.splitlines() if line.startswith("their review (")]
    if quotes:
        text += "\n\nIn their own words:\n" + "\n".join(
            f"- {q.removeprefix('their ')}" for q in quotes
        )
    return text


def brief_facts(segment: Segment, goal: str, channel: str) -> str:
    """A segment's facts (its one formatter) plus the brief's goal, channel and two of
    the segment's own reviews: what a brief is written from."""
    from segassist.tools.text import quote_customer_text

    facts = segment.facts()
    lines = [facts[0], f"goal: {goal}; channel: {channel}", *facts[1:]]
    for review in segment.profile.representative_reviews[:2]:
        lines.append(f"a typical review: {quote_customer_text(review.text, 200)}")
    return "\n".join(lines)


def campaign_brief(
    segment: Segment,
    goal: str,
    channel: str,
    write_text: WriteText | None,
    language: str = "English",
) -> tuple[str, str]:
    """(Markdown brief, "llm" | "template") for a segment, written in `language`."""
    listed = brief_facts(segment, goal, channel)
    if write_text is not None:
        try:
            written = write_text(
                prompt("brief").format(goal=goal, channel=channel, language=language, facts=listed),
                listed,
            )
        except Exception:  # any LLM failure falls back to the template below
            written = None
        if _usable(written, [f"{segment.size:,}"]) and re.search(r"^#", written or "", re.M):
            return written.strip(), "llm"
    return _brief_template(segment, goal, channel, listed), "template"


def _brief_template(segment: Segment, goal: str, channel: str, listed: str) -> str:
    churn = segment.profile.churn_risk_mean
    angle = (
        "win them back before they lapse" if churn >= 0.5 else "reward loyalty and grow basket size"
    )
    facts = listed.splitlines()
    return "\n".join(
        [
            f"# Campaign brief: {segment.name} ({goal}, {channel})",
            "## Audience and size",
            f"- {facts[0]}",
            "## What they buy",
            *[f"- {f}" for f in facts if f.startswith(("top ", "categories", "average"))],
            "## What they say",
            *[f"- {f}" for f in facts if f.startswith(("words", "a typical"))],
            "## Message angles",
            f"- {angle}; speak to what they write about most.",
            "## Offer ideas",
            f"- {'an' if channel[:1].lower() in 'aeiou' else 'a'} {channel} offer on their top "
            "categories, sized to their value.",
            "## KPIs",
            f"- {goal} rate in the segment vs a hold-out group; revenue per customer.",
            "## Risks",
            f"- average churn risk {churn:.0%}; discounting customers who would buy anyway.",
        ]
    )
