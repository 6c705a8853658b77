"""Pure functions that turn agent steps and tool payloads into chat messages, tables and figures.

Nothing here touches Gradio, the database or the LLM, so each function is
unit-tested on plain data. Figures are Plotly (rendered in the page, offline).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
from segassist.tools.result import ReviewHits, Table, ToolResult, WrittenText
from segassist.warehouse.records import Segment

if TYPE_CHECKING:
    from segassist.training.explain import Explanation

TOOL_TITLES = {
    "describe_data": "Looked at the tables",
    "run_sql": "Ran SQL",
    "segment_overview": "Read the segments",
    "find_customers": "Found customers",
    "customer_profile": "Read a customer's profile",
    "search_reviews": "Searched reviews",
    "explain_membership": "Explained a membership",
    "write_campaign_brief": "Wrote a campaign brief",
    "export_audience": "Exported an audience",
}
MAX_TABLE_ROWS = 50  # rows of a tool's table shown in a chat step
CHART_MAX_ROWS = 30  # a two-column result with more rows is not charted


@dataclass(frozen=True)
class ChatItem:
    """One message for the chat: text (Markdown), or a figure to show inline."""

    content: str | None = None
    figure: object | None = None  # a plotly Figure
    title: str | None = None  # set for a collapsed tool step
    status: str | None = None  # "pending" or "done" for tool steps

    def as_message(self) -> dict:
        """The message as Gradio's messages format takes it (figures are added by the app)."""
        message = {"role": "assistant", "content": self.content or ""}
        if self.title:
            message["metadata"] = {"title": self.title, "status": self.status or "done"}
        return message


def payload_frame(result: ToolResult | None) -> pd.DataFrame | None:
    """A tool's table as a DataFrame (None when it has no table)."""
    table = getattr(result, "payload", None)
    if not isinstance(table, Table) or not table.columns:
        return None
    return pd.DataFrame(table.rows, columns=table.columns)


def frame_markdown(frame: pd.DataFrame, total_rows: int | None = None) -> str:
    """A DataFrame as a Markdown table, with the total stated when rows were cut."""
    from segassist.tools.text import markdown_table

    rows = list(frame.itertuples(index=False, name=None))
    text = markdown_table([str(c) for c in frame.columns], rows, max_rows=MAX_TABLE_ROWS)
    total = total_rows if total_rows is not None else len(frame)
    shown = min(len(frame), MAX_TABLE_ROWS)
    if total > shown:
        text += f"\n\n*{shown:,} of {total:,} rows shown.*"
    return text


def table_chart(result: ToolResult | None):
    """A bar chart for a small label-and-number result (e.g. counts per country), else None."""
    frame = payload_frame(result)
    if frame is None or not 2 <= len(frame) <= CHART_MAX_ROWS or len(frame.columns) != 2:
        return None
    label, value = frame.columns
    numbers = pd.to_numeric(frame[value], errors="coerce")
    if numbers.isna().any() or (pd.api.types.is_numeric_dtype(frame[label]) and len(frame) > 12):
        return None
    import plotly.express as px

    chart = pd.DataFrame({label: frame[label].astype(str), value: numbers})
    figure = px.bar(chart, x=label, y=value, title=f"{value} by {label}")
    figure.update_layout(height=320, margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return figure


def _reviews_markdown(hits: list) -> str:
    """Review hits (retrieval.search.ReviewHit) as a Markdown list."""
    if not hits:
        return "No reviews matched."
    lines = []
    for hit in hits:
        text = re.sub(r"\s+", " ", str(hit.text))[:400]
        stars = "?" if hit.rating is None else hit.rating
        lines.append(f"- **{stars}★** {hit.date} · customer `{hit.customer_id}`: {text}")
    return "\n".join(lines)


def step_items(
    tool: str, args: dict, observation: str, result: ToolResult | None
) -> list[ChatItem]:
    """One tool call as a collapsed chat step (the SQL that ran, the rows, the reviews found),
    followed by an inline chart when the result is a small labelled series."""
    payload = getattr(result, "payload", None)
    parts = []
    if tool == "run_sql" and args.get("sql"):
        parts.append(f"```sql\n{args['sql'].strip()}\n```")
    elif args:
        parts.append(f"`{json.dumps(args, ensure_ascii=False, default=str)}`")
    frame = payload_frame(result)
    if frame is not None:
        parts.append(frame_markdown(frame, payload.total_rows))
    elif isinstance(payload, ReviewHits):
        parts.append(_reviews_markdown(payload.hits))
    elif isinstance(payload, WrittenText):
        parts.append(payload.text)
    else:
        parts.append(observation)
    failed = bool(getattr(result, "failed", False))
    title = TOOL_TITLES.get(tool, tool) + (" (failed)" if failed else "")
    items = [ChatItem(content="\n\n".join(parts), title=f"🔧 {title}")]
    chart = table_chart(result)
    if chart is not None:
        items.append(ChatItem(figure=chart))
    return items


def live_message(tokens: str) -> dict:
    """What the chat shows while the model writes: its words, or a placeholder while it
    writes a tool call (raw JSON or SQL means nothing to a marketer)."""
    head = tokens.lstrip()[:12].lower()
    if not head or head.startswith(("{", "[", "```", "<tool")):
        return {"role": "assistant", "content": "…", "metadata": {"title": "⏳ Working"}}
    return {"role": "assistant", "content": tokens}


def answer_items(steps: Iterable, text: str, seconds: float | None = None) -> list[ChatItem]:
    """An agent's answer: each tool step collapsed, then the answer text."""
    items = []
    for step in steps:
        items.extend(step_items(step.tool, step.args, step.observation, step.result))
    footer = f"\n\n<sub>{seconds:.1f} s</sub>" if seconds is not None else ""
    items.append(ChatItem(content=text + footer))
    return items


# --- segments -------------------------------------------------------------------------


def segment_choices(segments: list[Segment]) -> list[tuple[str, int]]:
    """(label, id) pairs for a segment dropdown."""
    return [(s.label, s.segment_id) for s in segments]


def segments_frame(segments: list[Segment]) -> pd.DataFrame:
    """One row per segment: id, name, size, share, churn risk, value, themes."""
    return pd.DataFrame(
        [
            {
                "segment": seg.segment_id,
                "name": seg.name,
                "customers": seg.size,
                "share": round(100 * seg.profile.share, 1),
                "churn risk %": round(100 * seg.profile.churn_risk_mean, 1),
                "value": seg.profile.value_estimate_mean,
                "themes": ", ".join(seg.profile.themes[:5]),
            }
            for seg in segments
        ]
    )


def segment_sizes_figure(segments: list[Segment]):
    """Bar chart of customers per segment."""
    import plotly.express as px

    frame = pd.DataFrame(
        {"segment": [s.label for s in segments], "customers": [s.size for s in segments]}
    )
    figure = px.bar(frame, x="segment", y="customers", color="segment", title="Segment sizes")
    figure.update_layout(showlegend=False, height=360, margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return figure


def segment_map_figure(segments: list[Segment]):
    """Customers on a 2-D map of the fused embedding (a stored sample), coloured by segment."""
    import plotly.express as px

    rows = [
        {"x": x, "y": y, "customer": cid, "segment": seg.label}
        for seg in segments
        for x, y, cid in seg.profile.map_points
    ]
    frame = pd.DataFrame(rows, columns=["x", "y", "customer", "segment"])
    figure = px.scatter(
        frame,
        x="x",
        y="y",
        color="segment",
        hover_data=["customer"],
        title="Customers by segment (2-D map of the fused representation, sample)",
    )
    figure.update_traces(marker={"size": 5, "opacity": 0.7})
    figure.update_layout(height=420, margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return figure


def profile_heatmap_figure(segments: list[Segment]):
    """Heat map of each segment's features against the population (z-scores)."""
    import plotly.express as px

    table = pd.DataFrame({s.label: s.profile.zscores for s in segments}).T
    if table.empty:
        table = pd.DataFrame({"no profile": [0.0]}, index=["-"])
    limit = max(1.0, float(table.abs().max().max()))
    figure = px.imshow(
        table,
        color_continuous_scale="RdBu_r",
        zmin=-limit,
        zmax=limit,
        aspect="auto",
        title="Segment profiles: feature z-scores vs all customers",
        labels={"color": "z"},
    )
    figure.update_layout(height=360, margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return figure


def segment_detail_markdown(segment: Segment) -> str:
    """A segment's facts (its one formatter), what sets it apart, and their own words."""
    p = segment.profile
    facts = segment.facts(products=5)
    listed = [f for f in facts[1:] if not f.startswith("compared with")]  # traits: below
    lines = [f"### Segment {segment.label}", *[f"- {fact}" for fact in listed]]
    lines.insert(1, f"**{facts[0]}**")
    if p.distinctive:
        lines.append("\n**What sets them apart** (segment average vs all customers):")
        for trait in p.distinctive:
            mine = p.feature_means.get(trait.feature, float("nan"))
            everyone = p.population_means.get(trait.feature, float("nan"))
            lines.append(f"- {trait.feature}: {mine:,.3g} vs {everyone:,.3g} (z {trait.z:+.1f})")
    if p.representative_reviews:
        lines.append("\n**In their words:**")
        for review in p.representative_reviews[:4]:
            text = re.sub(r"\s+", " ", str(review.text))[:300]
            stars = "?" if review.rating is None else review.rating
            lines.append(f"> {stars}★ {text}\n")
    return "\n".join(lines)


# --- one customer ---------------------------------------------------------------------


def probabilities_figure(probabilities: list[float], names: dict[int, str]):
    """Bar chart of a customer's membership probability per segment."""
    import plotly.express as px

    frame = pd.DataFrame(
        {
            "segment": [f"{k}: {names.get(k, k)}" for k in range(len(probabilities))],
            "probability": probabilities,
        }
    )
    figure = px.bar(
        frame, x="probability", y="segment", orientation="h", title="Segment membership"
    )
    figure.update_layout(height=280, xaxis_range=[0, 1], margin={"l": 10, "r": 10, "t": 40})
    return figure


def customer_vs_segment_figure(facts: Explanation):
    """This customer's driving features next to their segment's average, on one scale:
    the percentile among all customers (0-100), so days, counts and shares compare."""
    import plotly.graph_objects as go

    names, mine, theirs, hover = [], [], [], []
    for driver in facts.drivers:
        for feature, share in driver.percentiles.items():
            names.append(feature)
            mine.append(share)
            theirs.append(driver.segment_percentiles.get(feature))
            hover.append(
                f"{feature}: {driver.customer_values[feature]:,.4g} "
                f"(segment average {driver.segment_averages.get(feature, float('nan')):,.4g})"
            )
    figure = go.Figure(
        [
            go.Bar(name=f"customer {facts.customer_id}", x=names, y=mine, hovertext=hover),
            go.Bar(name=f"segment {facts.segment_id} average", x=names, y=theirs),
        ]
    )
    figure.update_layout(
        barmode="group",
        title="What places them in the segment: percentile among all customers",
        yaxis={"title": "percentile (0-100)", "range": [0, 100]},
        height=340,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
    )
    return figure


def written_by_note(written_by: str) -> str:
    """Who wrote a text, as the page says it."""
    if written_by == "llm":
        return "*Written by the local LLM from the facts above.*"
    return "*Template text from the facts above (the LLM was unavailable or unusable).*"


def brief_filename(segment_id: int, goal: str, channel: str) -> str:
    """A safe file name for a downloaded brief."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{goal}-{channel}".lower()).strip("-") or "brief"
    return f"brief-segment{segment_id}-{slug}.md"
