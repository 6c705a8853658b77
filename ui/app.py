"""The Gradio app: Chat (marketers), Segments, Customer explainer (CS leads), Campaign brief
(analysts).

Offline: analytics off, system fonts (no web fonts), everything served from this
machine. Several users at once through Gradio's queue; the chat's LLM calls run
in their own concurrency group, so a slow answer does not hold up the Segments
or Customer tabs (which show their facts first and ask the LLM afterwards).
Errors are shown in the page as what to do next, never as stack traces.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from pathlib import Path

from segassist.errors import InfrastructureError, UserInputError
from ui import render
from ui.access import RequireLogin, access, bind_address
from ui.services import Services

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

EXAMPLE_QUESTIONS = [
    "How many customers do we have, and how many reviews did they write?",
    "Which 5 products have the most reviews?",
    "Give me an overview of the customer segments.",
    "What do unhappy customers complain about?",
    "Which customers in the riskiest segment are most likely to churn?",
]
LANGUAGES = ["English", "Portuguese", "Chinese (简体中文)"]
GOALS = ["retention", "win-back", "upsell", "cross-sell", "loyalty"]
CHANNELS = ["email", "ads", "sms", "push", "in-app"]
CHAT_CONCURRENCY = 4  # chats in flight at once (the LLM server queues their calls)


def _message(error: Exception, llm_url: str | None = None) -> str:
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


def _after_recovery(services: Services, said: str) -> str:
    """The chat's message when the LLM server went away: restarted once, or what to do."""
    try:
        restarted = services.recover_llm()
    except Exception as e:
        return _message(e, services.llm_url)
    return f"⚠️ {restarted} Please ask again." if restarted else said


def _gradio_messages(items: list[render.ChatItem]) -> list[dict]:
    import gradio as gr

    messages = []
    for item in items:
        if item.figure is not None:
            messages.append({"role": "assistant", "content": gr.Plot(item.figure)})
        else:
            messages.append(item.as_message())
    return messages


def _segment_choices(segments: list[dict]) -> list[tuple[str, int]]:
    return [(f"{s['segment_id']}: {s['name']}", s["segment_id"]) for s in segments]


def build_app(services: Services):
    """The Blocks app on `services`."""
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
                    done += _gradio_messages(
                        render.step_items(value.tool, value.args, value.observation, value.artifact)
                    )
                    yield [*history, *done, pending], "", conversation
                else:
                    # The steps are already shown (rendered as they came): add the text.
                    final = render.answer_items([], value.text, value.seconds)
                    yield [*history, *done, *_gradio_messages(final)], "", conversation
        except Exception as e:  # shown in the chat: what went wrong and what to do
            said = _message(e, services.llm_url)
            if type(e).__name__ in ("APIConnectionError", "APITimeoutError"):
                said = _after_recovery(services, said)
            yield [*history, {"role": "assistant", "content": said}], "", conversation

    def new_conversation():
        return [], str(uuid.uuid4())

    def load_segments():
        try:
            segments = services.segments()
        except Exception as e:
            empty = gr.update(choices=[], value=None)
            return (_message(e), None, None, None, None, empty, empty, "")
        choices = _segment_choices(segments)
        first = choices[0][1] if choices else None
        return (
            f"**{sum(s['size'] for s in segments):,} customers in {len(segments)} segments.**",
            render.segments_frame(segments),
            render.segment_sizes_figure(segments),
            render.segment_map_figure(segments),
            render.profile_heatmap_figure(segments),
            gr.update(choices=choices, value=first),
            gr.update(choices=choices, value=first),
            render.segment_detail_markdown(segments[0]) if segments else "",
        )

    def show_segment(segment_id):
        if segment_id is None:
            return "Pick a segment."
        try:
            return render.segment_detail_markdown(services.segment(int(segment_id)))
        except Exception as e:
            return _message(e)

    def export_segment(segment_id):
        if segment_id is None:
            raise gr.Error("Pick a segment first.")
        try:
            return str(services.export_segment(int(segment_id)))
        except Exception as e:
            raise gr.Error(_message(e)) from e

    def explain(customer_id: str):
        try:
            view = services.customer(customer_id)
        except Exception as e:
            return _message(e), None, None, None, "", ""
        facts = view.facts
        summary = (
            f"### Customer `{view.customer_id}`\n"
            f"Segment **{facts['segment_id']}: {facts['segment_name']}** "
            f"({facts['probability']:.0%})"
            + (
                f", runner-up {facts['runner_up_name']} ({facts['runner_up_probability']:.0%})"
                if facts.get("runner_up_name")
                else ""
            )
            + f" · churn risk **{facts['churn_risk']:.0%}** · predicted value "
            f"{facts['value_estimate']:,.2f} ({facts['value_unit']})\n\n"
            + "; ".join(
                f"{k.replace('_', ' ')}: {v}"
                for k, v in view.profile.items()
                if k not in ("customer_id", "segment_id", "churn_risk", "value_estimate")
                and v is not None
            )
        )
        reviews = [
            [str(r["reviewed_at"])[:10], r["rating"], r["title"] or "", (r["text"] or "")[:500]]
            for r in view.reviews
        ]
        return (
            summary,
            render.probabilities_figure(view.probabilities, view.segment_names),
            render.customer_vs_segment_figure(facts),
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

    def brief(segment_id, goal: str, channel: str, language: str, use_llm: bool):
        if segment_id is None:
            return "Pick a segment (train and score first if the list is empty).", None
        try:
            markdown, written_by = services.brief(int(segment_id), goal, channel, language, use_llm)
        except Exception as e:
            return _message(e), None
        folder = Path(tempfile.mkdtemp(prefix="segassist-brief-"))
        path = folder / render.brief_filename(int(segment_id), goal, channel)
        path.write_text(markdown + "\n", encoding="utf-8")
        path.chmod(0o600)  # Gradio's cache copy keeps the mode: owner-only there too
        return markdown + "\n\n" + render.written_by_note(written_by), str(path)

    try:  # the API (gradio_client) checks dropdown values against the initial choices
        initial = _segment_choices(services.segments())
    except Exception:  # empty or untrained database: the Segments tab says what to do
        initial = []

    with gr.Blocks(title="segassist", analytics_enabled=False) as app:
        gr.Markdown("# segassist · customer segments, in plain language")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                conversation = gr.State(lambda: str(uuid.uuid4()))
                chatbot = gr.Chatbot(label="segassist", height=520, elem_id="chatbot")
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask about customers, segments, purchases or reviews…",
                        show_label=False,
                        scale=8,
                        elem_id="question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
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

            with gr.Tab("Customer", id="customer"):
                with gr.Row():
                    customer_id = gr.Textbox(label="Customer id", scale=4, elem_id="customer-id")
                    language = gr.Dropdown(LANGUAGES, value="English", label="Language", scale=1)
                    look = gr.Button("Explain", variant="primary", scale=1, elem_id="explain")
                customer_summary = gr.Markdown(elem_id="customer-summary")
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

            with gr.Tab("Campaign brief", id="brief"):
                with gr.Row():
                    brief_segment = gr.Dropdown(
                        label="Segment", choices=initial, elem_id="brief-seg"
                    )
                    goal = gr.Dropdown(
                        GOALS, value="retention", label="Goal", allow_custom_value=True
                    )
                    channel = gr.Dropdown(CHANNELS, value="email", label="Channel")
                    brief_language = gr.Dropdown(LANGUAGES, value="English", label="Language")
                    use_llm = gr.Checkbox(value=True, label="Write with the LLM")
                write = gr.Button("Write brief", variant="primary", elem_id="write-brief")
                brief_text = gr.Markdown(elem_id="brief-text")
                brief_file = gr.File(label="Download (Markdown)")

        segment_outputs = [status, table, sizes, seg_map, heatmap, pick, brief_segment, detail]
        app.load(load_segments, None, segment_outputs, api_name=False, concurrency_id="data")
        refresh.click(load_segments, None, segment_outputs, api_name=False, concurrency_id="data")
        pick.change(show_segment, pick, detail, api_name="segment", concurrency_id="data")
        export.click(export_segment, pick, exported, api_name="export", concurrency_id="data")
        for trigger in (look.click, customer_id.submit):
            trigger(
                explain,
                customer_id,
                [customer_summary, probabilities, versus, reviews, explanation, shown_id],
                api_name="explain" if trigger == look.click else False,
                concurrency_id="data",
            ).then(
                explain_with_llm,
                [shown_id, language, explanation],
                explanation,
                api_name=False,
                concurrency_id="llm-writing",
            )
        write.click(
            brief,
            [brief_segment, goal, channel, brief_language, use_llm],
            [brief_text, brief_file],
            api_name="brief",
            concurrency_id="llm-writing",
        )
    return app


def theme():
    """Gradio's default look with system fonts (the default theme fetches web fonts)."""
    import gradio as gr

    system = ["ui-sans-serif", "system-ui", "sans-serif"]
    return gr.themes.Default(font=system, font_mono=["ui-monospace", "monospace"])


def serve(services: Services, host: str, port: int, user: str, password: str | None, **launch):
    """Start the app (blocking unless prevent_thread_lock=True); returns the app."""
    from starlette.middleware import Middleware

    credentials = access(host, user, password)
    # Files handed to the browser (exports, briefs) are copied into Gradio's cache: a
    # private folder, not the shared /tmp/gradio.
    os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="segassist-ui-"))
    threading.Thread(target=services.warm_up, daemon=True).start()
    app = build_app(services)
    app.queue(default_concurrency_limit=8)
    app.launch(
        server_name=bind_address(host),
        server_port=port,
        auth=credentials,
        app_kwargs={"middleware": [Middleware(RequireLogin)]},
        share=False,
        show_error=False,
        theme=theme(),
        footer_links=[],
        **launch,
    )
    return app
