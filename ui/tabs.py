"""The four tabs, one builder each: its components and the handlers behind them.

Handlers turn Services' typed records into what Gradio shows (through the pure
functions of ui.render); errors become a line that says what to do.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from segassist.tools.writing import LANGUAGE_NAMES
from segassist.ui import render
from segassist.ui.messages import after_recovery, gradio_messages, message_for
from segassist.ui.services import CustomerView, Services
from segassist.warehouse.records import expected_value

EXAMPLE_QUESTIONS = [
    "How many customers do we have, and how many reviews did they write?",
    "Which 5 products have the most reviews?",
    "Give me an overview of the customer segments.",
    "What do unhappy customers complain about?",
    "Which customers in the riskiest segment are most likely to churn?",
]
LANGUAGES = list(LANGUAGE_NAMES.values())
GOALS = ["retention", "win-back", "upsell", "cross-sell", "loyalty"]
CHANNELS = ["email", "ads", "sms", "push", "in-app"]
CHAT_CONCURRENCY = 4  # chats in flight at once (the LLM server queues their calls)


def chat_tab(services: Services):
    """Chat (marketers): the agent's answer as it is written, each tool step above it.
    Returns (handler, outputs) that refresh the assistant's state when a page loads."""
    import gradio as gr

    def chat(message: str, history: list, conversation: str):
        history = list(history or [])
        question = (message or "").strip()
        if not question:
            yield history, "", conversation
            return
        history.append({"role": "user", "content": question})
        pending = render.live_message("")
        yield [*history, pending], "", conversation
        try:
            agent = services.agent()
            done, tokens = [], ""
            for kind, value in agent.stream(question, conversation):
                if kind == "token":
                    tokens += value
                    yield [*history, *done, render.live_message(tokens)], "", conversation
                elif kind == "step":
                    tokens = ""
                    done += gradio_messages(
                        render.step_items(value.tool, value.args, value.observation, value.result)
                    )
                    yield [*history, *done, pending], "", conversation
                else:
                    # The steps are already shown (rendered as they came): add the text.
                    final = render.answer_items([], value.text, value.seconds)
                    yield [*history, *done, *gradio_messages(final)], "", conversation
        except Exception as e:  # shown in the chat: what went wrong and what to do
            said = message_for(e, services.llm_url)
            if type(e).__name__ in ("APIConnectionError", "APITimeoutError"):
                said = after_recovery(services, said)
            yield [*history, {"role": "assistant", "content": said}], "", conversation

    def new_conversation():
        return [], str(uuid.uuid4())

    def assistant_state():
        """While the LLM starts in the background: say so, keep the input off, poll."""
        ready, line = services.assistant_status()
        return (
            gr.Markdown(line, visible=bool(line)),
            gr.Textbox(interactive=ready),
            gr.Button(interactive=ready),
            gr.Timer(active=not ready and services.startup is not None),
        )

    ready, line = services.assistant_status()
    with gr.Tab("Chat", id="chat"):
        conversation = gr.State(lambda: str(uuid.uuid4()))
        status = gr.Markdown(line, visible=bool(line), elem_id="assistant-status")
        chatbot = gr.Chatbot(label="segassist", height=520, elem_id="chatbot")
        with gr.Row():
            question = gr.Textbox(
                placeholder="Ask about customers, segments, purchases or reviews…",
                show_label=False,
                scale=8,
                elem_id="question",
                interactive=ready,
            )
            ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask", interactive=ready)
            clear = gr.Button("New conversation", scale=1)
        gr.Examples(EXAMPLE_QUESTIONS, inputs=question, label="Try")
        for trigger in (question.submit, ask.click):
            trigger(
                chat,
                [question, chatbot, conversation],
                [chatbot, question, conversation],
                api_name="chat" if trigger == ask.click else False,
                concurrency_limit=CHAT_CONCURRENCY,
                concurrency_id="llm-chat",
            )
        clear.click(new_conversation, None, [chatbot, conversation], api_name=False)
        poll = gr.Timer(5, active=not ready)
        poll.tick(assistant_state, None, [status, question, ask, poll], api_name=False)
    return assistant_state, [status, question, ask, poll]


@dataclass
class SegmentsTab:
    """What the app wires across tabs: the components a reload fills."""

    outputs: list  # status, table, sizes, map, heat map, segment pick
    detail: object
    refresh: object


def segments_loader(services: Services):
    """The handler that fills the Segments tab (and the brief's segment list)."""
    import gradio as gr

    def load_segments():
        try:
            segments = services.segments()
        except Exception as e:
            empty = gr.update(choices=[], value=None)
            return (message_for(e), None, None, None, None, empty, empty, "")
        choices = render.segment_choices(segments)
        first = choices[0][1] if choices else None
        return (
            f"**{sum(s.size for s in segments):,} customers in {len(segments)} segments.**",
            render.segments_frame(segments),
            render.segment_sizes_figure(segments),
            render.segment_map_figure(segments),
            render.profile_heatmap_figure(segments),
            gr.update(choices=choices, value=first),
            gr.update(choices=choices, value=first),
            render.segment_detail_markdown(segments[0]) if segments else "",
        )

    return load_segments


def segments_tab(services: Services, initial: list) -> SegmentsTab:
    """Segments: sizes, the customer map, profiles, one segment's detail and its audience."""
    import gradio as gr

    def show_segment(segment_id):
        if segment_id is None:
            return "Pick a segment."
        try:
            return render.segment_detail_markdown(services.segment(int(segment_id)))
        except Exception as e:
            return message_for(e)

    def export_segment(segment_id):
        if segment_id is None:
            raise gr.Error("Pick a segment first.")
        try:
            return str(services.export_segment(int(segment_id)))
        except Exception as e:
            raise gr.Error(message_for(e)) from e

    with gr.Tab("Segments", id="segments"):
        status = gr.Markdown(elem_id="segments-status")
        refresh = gr.Button("Reload segments")
        with gr.Row():
            sizes = gr.Plot(label="Segment sizes")
            heatmap = gr.Plot(label="Profiles")
        table = gr.Dataframe(label="Segments", interactive=False)
        seg_map = gr.Plot(label="Customer map")
        with gr.Row():
            pick = gr.Dropdown(label="Segment", choices=initial, elem_id="segment-pick")
            export = gr.Button("Export audience (CSV)")
        exported = gr.File(label="Audience")
        detail = gr.Markdown(elem_id="segment-detail")
    pick.change(show_segment, pick, detail, api_name="segment", concurrency_id="data")
    export.click(export_segment, pick, exported, api_name="export", concurrency_id="data")
    return SegmentsTab([status, table, sizes, seg_map, heatmap, pick], detail, refresh)


def customer_summary(view: CustomerView) -> str:
    """The Customer tab's heading: segment, runner-up, churn risk, value, the profile."""
    facts = view.facts
    runner_up = (
        f", runner-up {facts.runner_up_name} ({facts.runner_up_probability:.0%})"
        if facts.runner_up_name
        else ""
    )
    shown_above = ("customer_id", "segment_id", "churn_risk", "value_estimate")
    profile = view.profile.facts(leave_out=shown_above) if view.profile else ""
    return (
        f"### Customer `{view.customer_id}`\n"
        f"Segment **{facts.segment_id}: {facts.segment_name}** ({facts.probability:.0%})"
        f"{runner_up} · churn risk **{facts.churn_risk:.0%}** · "
        f"{expected_value(facts.value_estimate, facts.value_unit, facts.horizon_days)}"
        f"\n\n{profile}"
    )


def customer_tab(services: Services) -> None:
    """Customer (CS leads): why a customer is in their segment, with their own words."""
    import gradio as gr

    def explain(customer_id: str):
        try:
            view = services.customer(customer_id)
        except Exception as e:
            return message_for(e), None, None, None, "", ""
        reviews = [
            [str(r.reviewed_at)[:10], r.rating, r.title or "", (r.text or "")[:500]]
            for r in view.reviews
        ]
        return (
            customer_summary(view),
            render.probabilities_figure(view.probabilities, view.segment_names),
            render.customer_vs_segment_figure(view.facts),
            reviews,
            view.template_text + "\n\n" + render.written_by_note("template"),
            view.customer_id,
        )

    def explain_with_llm(customer_id: str, language: str, current: str):
        if not customer_id:
            return current
        try:
            text, written_by = services.written_explanation(customer_id, language)
        except Exception:
            return current  # the template already shown stays
        return text + "\n\n" + render.written_by_note(written_by)

    with gr.Tab("Customer", id="customer"):
        with gr.Row():
            customer_id = gr.Textbox(label="Customer id", scale=4, elem_id="customer-id")
            language = gr.Dropdown(LANGUAGES, value="English", label="Language", scale=1)
            look = gr.Button("Explain", variant="primary", scale=1, elem_id="explain")
        summary = gr.Markdown(elem_id="customer-summary")
        with gr.Row():
            probabilities = gr.Plot(label="Membership")
            versus = gr.Plot(label="Customer vs segment")
        explanation = gr.Markdown(elem_id="explanation")
        reviews = gr.Dataframe(
            headers=["date", "rating", "title", "text"],
            label="Their reviews",
            interactive=False,
            wrap=True,
        )
        shown_id = gr.State("")
    for trigger in (look.click, customer_id.submit):
        trigger(
            explain,
            customer_id,
            [summary, probabilities, versus, reviews, explanation, shown_id],
            api_name="explain" if trigger == look.click else False,
            concurrency_id="data",
        ).then(
            explain_with_llm,
            [shown_id, language, explanation],
            explanation,
            api_name=False,
            concurrency_id="llm-writing",
        )


def brief_tab(services: Services, initial: list):
    """Campaign brief (analysts): a brief for a segment, goal and channel, downloadable.
    Returns its segment dropdown (the Segments loader fills it)."""
    import gradio as gr

    def brief(segment_id, goal: str, channel: str, language: str, use_llm: bool):
        if segment_id is None:
            return "Pick a segment (train and score first if the list is empty).", None
        try:
            markdown, written_by = services.brief(int(segment_id), goal, channel, language, use_llm)
        except Exception as e:
            return message_for(e), None
        folder = Path(tempfile.mkdtemp(prefix="segassist-brief-"))
        path = folder / render.brief_filename(int(segment_id), goal, channel)
        path.write_text(markdown + "\n", encoding="utf-8")
        path.chmod(0o600)  # Gradio's cache copy keeps the mode: owner-only there too
        return markdown + "\n\n" + render.written_by_note(written_by), str(path)

    with gr.Tab("Campaign brief", id="brief"):
        with gr.Row():
            segment = gr.Dropdown(label="Segment", choices=initial, elem_id="brief-seg")
            goal = gr.Dropdown(GOALS, value="retention", label="Goal", allow_custom_value=True)
            channel = gr.Dropdown(CHANNELS, value="email", label="Channel")
            language = gr.Dropdown(LANGUAGES, value="English", label="Language")
            use_llm = gr.Checkbox(value=True, label="Write with the LLM")
        write = gr.Button("Write brief", variant="primary", elem_id="write-brief")
        text = gr.Markdown(elem_id="brief-text")
        file = gr.File(label="Download (Markdown)")
    write.click(
        brief,
        [segment, goal, channel, language, use_llm],
        [text, file],
        api_name="brief",
        concurrency_id="llm-writing",
    )
    return segment
