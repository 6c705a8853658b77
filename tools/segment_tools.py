"""Tools over the segmenter's results: segments, audiences, customers, explanations,
briefs and exports. Each reads through warehouse.queries and returns a ToolResult."""

from __future__ import annotations

from dataclasses import astuple

from langchain_core.runnables import RunnableConfig
from segassist.core.errors import UserInputError
from segassist.tools.context import ToolContext, run_setting
from segassist.tools.export import export_audience as write_audience
from segassist.tools.result import SegmentOverview, Table, ToolResult, WrittenText
from segassist.tools.text import markdown_table
from segassist.warehouse import queries
from segassist.warehouse.queries import (
    AudienceCriteria,
    find_audience,
    list_segments,
    serving_version_id,
)
from segassist.warehouse.records import AUDIENCE_COLUMNS

NOT_SCORED = ToolResult.failure(
    "No segments or scores yet: the segmenter has not been trained.",
    "Answer from SQL, or tell the user to run 'segassist train' and 'segassist score'.",
)


def language_of_run(config: RunnableConfig | None) -> str:
    """The language of the question being answered, as the agent passed it in the run's
    config (English when called outside the agent)."""
    return run_setting(config, "language", "English")


def segment_overview_tool(ctx: ToolContext):
    def segment_overview() -> ToolResult:
        """Summarise every customer segment: size, churn risk, value, traits, themes."""
        version = serving_version_id(ctx.engine)
        if version is None:
            return NOT_SCORED
        segments = list_segments(ctx.engine, version)
        text = "\n".join("; ".join(s.facts(products=2, traits=3)) for s in segments)
        return ToolResult(
            text + "\n" + segment_extremes(segments), SegmentOverview(version, segments)
        )

    return segment_overview


def segment_extremes(segments: list) -> str:
    """The comparisons people ask of a segment list, stated (a small model reading six
    segments' figures often names the first one instead of the largest)."""
    if not segments:
        return ""

    def named(segment) -> str:
        return f'segment {segment.segment_id} "{segment.name}"'

    def churn(s):
        return s.profile.churn_risk_mean

    def value(s):
        return s.profile.value_estimate_mean

    return (
        f"{len(segments)} segments. Largest: {named(max(segments, key=lambda s: s.size))}; "
        f"smallest: {named(min(segments, key=lambda s: s.size))}; highest churn risk: "
        f"{named(max(segments, key=churn))}; lowest churn risk: "
        f"{named(min(segments, key=churn))}; highest expected spend: "
        f"{named(max(segments, key=value))}."
    )


def find_customers_tool(ctx: ToolContext):
    def find_customers(
        segment_id: int | None = None,
        min_churn_risk: float | None = None,
        max_churn_risk: float | None = None,
        min_value: float | None = None,
        country: str | None = None,
        limit: int = 20,
    ) -> ToolResult:
        """Find an audience: customers matching all the given criteria, riskiest first.

        Args:
            segment_id: only customers in this segment.
            min_churn_risk: churn risk at least this (0-1).
            max_churn_risk: churn risk at most this (0-1).
            min_value: predicted value at least this.
            country: only customers from this country.
            limit: how many customers to list (the total is always counted).
        """
        version = serving_version_id(ctx.engine)
        if version is None:
            return NOT_SCORED
        criteria = AudienceCriteria(segment_id, min_churn_risk, max_churn_risk, min_value, country)
        total, members = find_audience(ctx.engine, criteria, max(1, min(limit, 200)))
        rows = [astuple(m) for m in members]
        text = f"{total:,} customers match.\n" + markdown_table(AUDIENCE_COLUMNS, rows)
        return ToolResult(text, Table(AUDIENCE_COLUMNS, [list(r) for r in rows], total))

    return find_customers


def customer_profile_tool(ctx: ToolContext):
    def customer_profile(customer_id: str) -> ToolResult:
        """One customer's purchases, reviews, segment and predicted traits.

        Args:
            customer_id: the customer's id exactly as stored.
        """
        profile = queries.customer_profile(ctx.engine, customer_id)
        if profile is None:
            return ToolResult.failure(
                f"No customer with id {customer_id!r}.",
                "Check the id (ids are case-sensitive) or find customers with run_sql.",
            )
        return ToolResult(profile.facts(), profile)

    return customer_profile


def explain_membership_tool(ctx: ToolContext):
    def explain_membership(customer_id: str, config: RunnableConfig) -> ToolResult:
        """Why a customer is in their segment: the facts, with their own words.

        Args:
            customer_id: the customer's id exactly as stored.
        """
        from segassist.tools.writing import explanation_text
        from segassist.training.explain import explain_membership as explain

        try:
            facts = explain(ctx.engine, customer_id, index=ctx.index)
        except UserInputError as e:
            return ToolResult.failure(f"Cannot explain: {e}", "Check the customer id.")
        text, written_by = explanation_text(facts, ctx.write_text, language_of_run(config))
        return ToolResult(text, WrittenText("explanation", text, written_by, facts=facts))

    return explain_membership


def campaign_brief_tool(ctx: ToolContext):
    def write_campaign_brief(
        segment_id: int, config: RunnableConfig, goal: str = "retention", channel: str = "email"
    ) -> ToolResult:
        """Write a campaign brief for a segment from its profile.

        Args:
            segment_id: the segment to target.
            goal: what the campaign is for, e.g. retention, upsell, win-back.
            channel: e.g. email, ads, sms, push.
        """
        from segassist.tools.writing import campaign_brief

        version = serving_version_id(ctx.engine)
        if version is None:
            return NOT_SCORED
        segments = {s.segment_id: s for s in list_segments(ctx.engine, version)}
        if segment_id not in segments:
            return ToolResult.failure(
                f"No segment {segment_id}; segments are {sorted(segments)}.",
                "Call segment_overview to see them.",
            )
        text, written_by = campaign_brief(
            segments[segment_id], goal, channel, ctx.write_text, language_of_run(config)
        )
        return ToolResult(text, WrittenText("brief", text, written_by, segment_id=segment_id))

    return write_campaign_brief


def export_audience_tool(ctx: ToolContext):
    def export_audience(
        segment_id: int | None = None,
        min_churn_risk: float | None = None,
        min_value: float | None = None,
    ) -> ToolResult:
        """Save an audience (customers matching the criteria) to a CSV file.

        Args:
            segment_id: only customers in this segment.
            min_churn_risk: churn risk at least this (0-1).
            min_value: predicted value at least this.
        """
        version = serving_version_id(ctx.engine)
        if version is None:
            return NOT_SCORED
        criteria = AudienceCriteria(segment_id, min_churn_risk, None, min_value)
        exported = write_audience(ctx.engine, ctx.exports_dir, criteria)
        return ToolResult(f"Saved {exported.rows:,} customers to {exported.path}.", exported)

    return export_audience
