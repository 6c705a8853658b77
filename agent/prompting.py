"""What the model is told: the system prompt (schema, tools) and the agent's nudges,
from templates in agent/prompts/."""

from __future__ import annotations

from importlib import resources


def prompt(name: str) -> str:
    """A prompt template shipped in agent/prompts/."""
    return resources.files("segassist.agent.prompts").joinpath(f"{name}.md").read_text("utf-8")


def tool_catalogue(tools: list) -> str:
    """The tools as the system prompt lists them (servers that ignore `tools` still work)."""
    lines = []
    for tool in tools:
        args = ", ".join(
            f"{name}: {schema.get('type', schema.get('anyOf', [{}])[0].get('type', 'any'))}"
            for name, schema in tool.args.items()
        )
        summary = tool.description.strip().splitlines()[0]
        lines.append(f"- {tool.name}({args}): {summary}")
    return "\n".join(lines)


def system_prompt(tools: list, schema: str = "") -> str:
    """The system prompt with the data's schema and the tool catalogue appended."""
    parts = [prompt("system")]
    if schema:
        parts.append("Data (SQL):\n" + schema)
    parts.append("Tools:\n" + tool_catalogue(tools))
    return "\n".join(parts)
