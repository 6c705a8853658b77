"""The agent's tools: typed functions whose docstrings the model reads.

`make_tools` binds them to a ToolContext (no module state) and adapts each to
LangChain: the model reads `ToolResult.for_model()` (personal data masked, size
bounded), the UI gets the ToolResult itself as the artifact. Any failure, of any
type, comes back as a failed ToolResult saying what to fix; the question goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from segassist.tools.context import ToolContext
from segassist.tools.data_tools import describe_data_tool, run_sql_tool, search_reviews_tool
from segassist.tools.result import ToolResult
from segassist.tools.schema_text import describe_data_text, schema_summary, sql_error_hint
from segassist.tools.segment_tools import (
    campaign_brief_tool,
    customer_profile_tool,
    explain_membership_tool,
    export_audience_tool,
    find_customers_tool,
    segment_overview_tool,
)

__all__ = [
    "ToolContext",
    "describe_data_text",
    "make_tools",
    "observed",
    "schema_summary",
    "sql_error_hint",
]

TOOL_FACTORIES = (
    describe_data_tool,
    run_sql_tool,
    segment_overview_tool,
    find_customers_tool,
    customer_profile_tool,
    search_reviews_tool,
    explain_membership_tool,
    campaign_brief_tool,
    export_audience_tool,
)


def make_tools(context: ToolContext) -> list:
    """The agent's tools bound to `context`, as LangChain tools."""
    from langchain_core.tools import StructuredTool

    return [
        StructuredTool.from_function(
            observed(factory(context)),
            response_format="content_and_artifact",
            parse_docstring=True,
        )
        for factory in TOOL_FACTORIES
    ]


def observed(function: Callable[..., ToolResult]) -> Callable[..., tuple[str, ToolResult]]:
    """`function` as LangChain calls it: (text for the model, the ToolResult). Any failure
    becomes a failed ToolResult that says what to fix."""

    @functools.wraps(function)
    def tool(*args, **kwargs) -> tuple[str, ToolResult]:
        try:
            result = function(*args, **kwargs)
        except Exception as e:  # the model's arguments or data it cannot handle
            reason = (str(e).strip().splitlines() or [""])[0][:300]
            result = ToolResult.failure(
                f"Tool {function.__name__} failed ({type(e).__name__}: {reason}).",
                "Check the arguments' types and ranges and call again, or answer from the "
                "results you have.",
            )
        return result.for_model(), result

    return tool
