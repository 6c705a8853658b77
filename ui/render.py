"""Pure functions that turn agent steps and tool payloads into chat messages, tables and figures.

Nothing here touches Gradio, the database or the LLM, so each function is
unit-tested on plain data. Figures are Plotly (rendered in the page, offline).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

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


def payload_frame(payload: dict | None) -> pd.DataFrame | None:
    """A tool's table payload as a DataFrame (None when it has no table)."""
    if not payload or payload.get("kind") != "table" or not payload.get("columns"):
        return None
    return pd.DataFrame(payload.get("rows", []), columns=payload["columns"])


def frame_markdown(frame: pd.DataFrame, total_rows: int | None = None) -> str:
    """A DataFrame as a Markdown table, with the total stated when rows were cut."""
    from tools.text import markdown_table

    rows = list(frame.itertuples(index=False, name=None))
    text = markdown_table([str(c) for c in frame.columns], rows, max_rows=MAX_TABLE_ROWS)
    total = total_rows if total_rows is not None else len(frame)
    shown = min(len(frame), MAX_TABLE_ROWS)
    if total > shown:
        text += f"\n\n*{shown:,} of {total:,} rows shown.*"
    return text


def table_chart(payload: dict | None):
    """A bar chart for a small label-and-number result (e.g. counts per country), else None."""
    frame = payload_frame(payload)
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


def _reviews_markdown(hits: list[dict]) -> str:
    if not hits:
        return "No reviews matched."
    lines = []
    for hit in hits:
        text = re.sub(r"\s+", " ", str(hit.get("text", "")))[:400]
        lines.append(
            f"- **{hit.get('rating', '?')}★** {hit.get('date', '')} · customer "
            f"`{hit.get('customer_id', '?')}`: {text}"
        )
    return "\n".join(lines)


def step_items(tool: str, args: dict, observation: str, payload: dict | None) -> list[ChatItem]:
    """One tool call as a collapsed chat step (the SQL that ran, the rows, the reviews found),
    followed by an inline chart when the result is a small labelled series."""
    payload = payload or {}
    kind = payload.get("kind")
    parts = []
    if tool == "run_sql" and args.get("sql"):
        parts.append(f"```sql\n{args['sql'].strip()}\n```")
    elif args:
        parts.append(f"`{json.dumps(args, ensure_ascii=False, default=str)}`")
    frame = payload_frame(payload)
    if frame is not None:
        parts.append(frame_markdown(frame, payload.get("total_rows")))
    elif kind == "reviews":
        parts.append(_reviews_markdown(payload.get("hits", [])))
    elif kind in ("brief", "explanation"):
        parts.append(payload.get("markdown") or payload.get("text") or observation)
    else:
        parts.append(observation)
    failed = kind == "error" or observation.startswith(("SQL not run", "Error", "Cannot"))
    title = TOOL_TITLES.get(tool, tool) + (" (failed)" if failed else "")
    items = [ChatItem(content="\n\n".join(parts), title=f"🔧 {title}")]
    chart = table_chart(payload)
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
        items.extend(step_items(step.tool, step.args, step.observation, step.artifact))
    footer = f"\n\n<sub>{seconds:.1f} s</sub>" if seconds is not None else ""
    items.append(ChatItem(content=text + footer))
    return items


# --- segments -------------------------------------------------------------------------


def segments_frame(segments: list[dict]) -> pd.DataFrame:
    """One row per segment: id, name, size, share, churn risk, value, themes."""
    rows = []
    for seg in segments:
        profile = seg.get("profile") or {}
        rows.append(
            {
                "segment": seg["segment_id"],
                "name": seg["name"],
                "customers": seg["size"],
                "share": round(100 * profile.get("share", 0.0), 1),
                "churn risk %": round(100 * profile.get("churn_risk_mean", 0.0), 1),
                "value": profile.get("value_estimate_mean", 0.0),
                "themes": ", ".join(profile.get("themes", [])[:5]),
            }
        )
    return pd.DataFrame(rows)


def _label(seg: dict) -> str:
    return f"{seg['segment_id']}: {seg['name']}"


def segment_sizes_figure(segments: list[dict]):
    """Bar chart of customers per segment."""
    import plotly.express as px

    frame = pd.DataFrame(
        {"segment": [_label(s) for s in segments], "customers": [s["size"] for s in segments]}
    )
    figure = px.bar(frame, x="segment", y="customers", color="segment", title="Segment sizes")
    figure.update_layout(showlegend=False, height=360, margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return figure


def segment_map_figure(segments: list[dict]):
    """Customers on a 2-D map of the fused embedding (a stored sample), coloured by segment."""
    import plotly.express as px

    rows = [
        {"x": x, "y": y, "customer": cid, "segment": _label(seg)}
        for seg in segments
        for x, y, cid in (seg.get("profile") or {}).get("map_points", [])
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


def profile_heatmap_figure(segments: list[dict]):
    """Heat map of each segment's features against the population (z-scores)."""
    import plotly.express as px

    table = pd.DataFrame(
        {_label(s): (s.get("profile") or {}).get("zscores", {}) for s in segments}
    ).T
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


def segment_detail_markdown(segment: dict) -> str:
    """A segment's profile, themes, top products and representative reviews."""
    p = segment.get("profile") or {}
    lines = [
        f"### Segment {segment['segment_id']}: {segment['name']}",
        f"**{segment['size']:,} customers** ({100 * p.get('share', 0):.1f}% of all) · "
        f"churn risk {100 * p.get('churn_risk_mean', 0):.0f}% · "
        f"predicted value {p.get('value_estimate_mean', 0):,.2f}",
    ]
    if p.get("distinctive"):
        lines.append("\n**What sets them apart** (vs all customers):")
        means, population = p.get("feature_means", {}), p.get("population_means", {})
        for d in p["distinctive"]:
            feature = d["feature"]
            lines.append(
                f"- {feature}: {means.get(feature, float('nan')):,.3g} vs "
                f"{population.get(feature, float('nan')):,.3g} (z {d['z']:+.1f})"
            )
    if p.get("themes"):
        lines.append("\n**What they write about:** " + ", ".join(p["themes"]))
    products = p.get("top_products") or []
    if products:
        lines.append("\n**What they buy:**")
        for product in products[:5]:
            name = product.get("title") or product.get("product_id")
            lines.append(f"- {name} ({product.get('customers', product.get('n', '?'))})")
    reviews = p.get("representative_reviews") or []
    if reviews:
        lines.append("\n**In their words:**")
        for review in reviews[:4]:
            text = re.sub(r"\s+", " ", str(review.get("text", "")))[:300]
            lines.append(f"> {review.get('rating', '?')}★ {text}\n")
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


def customer_vs_segment_figure(facts: dict):
    """This customer's driving features next to their segment's averages."""
    import plotly.graph_objects as go

    names, mine, theirs = [], [], []
    for driver in facts.get("drivers", []):
        for feature, value in driver["customer_values"].items():
            names.append(feature)
            mine.append(value)
            theirs.append(driver["segment_averages"].get(feature))
    figure = go.Figure(
        [
            go.Bar(name=f"customer {facts.get('customer_id', '')}", x=names, y=mine),
            go.Bar(name=f"segment {facts.get('segment_id', '')} average", x=names, y=theirs),
        ]
    )
    figure.update_layout(
        barmode="group",
        title="What places them in the segment: their values vs the segment's",
        height=340,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
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
