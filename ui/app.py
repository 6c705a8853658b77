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

from segassist.ui import render
from segassist.ui.access import RequireLogin, access, bind_address
from segassist.ui.services import Services


def build_app(services: Services):
    """The Blocks app on `services`: one builder per tab (ui.tabs)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported
    import gradio as gr
    from segassist.ui import tabs

    try:  # the API (gradio_client) checks dropdown values against the initial choices
        initial = render.segment_choices(services.segments())
    except Exception:  # empty or untrained database: the Segments tab says what to do
        initial = []
    with gr.Blocks(title="segassist", analytics_enabled=False) as app:
        gr.Markdown("# segassist · customer segments, in plain language")
        with gr.Tabs():
            assistant_state, assistant_outputs = tabs.chat_tab(services)
            segments = tabs.segments_tab(services, initial)
            tabs.customer_tab(services)
            brief_pick = tabs.brief_tab(services, initial)
        outputs = [*segments.outputs, brief_pick, segments.detail]
        load = tabs.segments_loader(services)
        app.load(load, None, outputs, api_name=False, concurrency_id="data")
        app.load(assistant_state, None, assistant_outputs, api_name=False)
        segments.refresh.click(load, None, outputs, api_name=False, concurrency_id="data")
    return app


def theme():
    """Gradio's default look with system fonts (the default theme fetches web fonts)."""
    import gradio as gr

    system = ["ui-sans-serif", "system-ui", "sans-serif"]
    return gr.themes.Default(font=system, font_mono=["ui-monospace", "monospace"])


def serve(
    services: Services,
    host: str,
    port: int,
    user: str,
    password: str | None,
    gradio_server_name: str | None = None,
    **launch,
):
    """Start the app (blocking unless prevent_thread_lock=True); returns the app."""
    from starlette.middleware import Middleware

    credentials = access(host, user, password, gradio_server_name)
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
