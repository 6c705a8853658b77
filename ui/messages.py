"""What the page says: errors as what to do next, agent steps as Gradio chat messages."""

from __future__ import annotations

from segassist.core.errors import InfrastructureError, UserInputError
from segassist.ui import render
from segassist.ui.services import Services


def message_for(error: Exception, llm_url: str | None = None) -> str:
    """What the page says for an error: the message for ours, a short line for others."""
    if isinstance(error, UserInputError | InfrastructureError):
        return f"⚠️ {error}"
    if type(error).__name__ in ("APIConnectionError", "APITimeoutError"):  # openai's
        return (
            f"⚠️ The LLM server at {llm_url or 'the configured URL'} did not answer "
            f"({type(error).__name__}). Check it with 'segassist llm status'; start it with "
            "'segassist llm serve --background'. The Segments, Customer and Brief tabs work "
            "without it."
        )
    return f"⚠️ Something went wrong: {type(error).__name__}: {error}"


def after_recovery(services: Services, said: str) -> str:
    """The chat's message when the LLM server went away: restarted once, or what to do."""
    try:
        restarted = services.recover_llm()
    except Exception as e:
        return message_for(e, services.llm_url)
    return f"⚠️ {restarted} Please ask again." if restarted else said


def gradio_messages(items: list[render.ChatItem]) -> list[dict]:
    import gradio as gr

    messages = []
    for item in items:
        if item.figure is not None:
            messages.append({"role": "assistant", "content": gr.Plot(item.figure)})
        else:
            messages.append(item.as_message())
    return messages
