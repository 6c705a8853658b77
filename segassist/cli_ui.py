"""The `ui` command: the Gradio app for marketers, CS leads and analysts."""

from __future__ import annotations

import click

from segassist.cli import _State, cli


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=7860, show_default=True)
@click.pass_obj
def ui(state: _State, host: str, port: int) -> None:
    """Serve the web UI (Chat, Segments, Customer, Campaign brief).

    Beyond 127.0.0.1 a password is required: set SEGASSIST_UI_PASSWORD (user
    SEGASSIST_UI_USER, default 'segassist') or ui_password in the settings file.
    """
    from ui.app import access, serve
    from ui.services import Services
    from warehouse.db import require_schema

    access(host, state.settings.ui_user, state.settings.ui_password)  # refuse before any work
    require_schema(state.engine)
    services = Services(
        state.engine,
        state.existing_review_index(),
        state.settings.llm_url,
        state.settings.home / "exports",
    )
    click.echo(f"segassist UI on http://{host}:{port} (Ctrl+C to stop)")
    serve(services, host, port, state.settings.ui_user, state.settings.ui_password, quiet=True)
