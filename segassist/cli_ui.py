"""The `ui` and `demo` commands: the Gradio app, and everything it needs in one command."""

from __future__ import annotations

import time
from pathlib import Path

import click

from segassist.agent.models import MODELS
from segassist.agent.serving import DEFAULT_PORT
from segassist.cli_base import State, cli


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=7860, show_default=True)
@click.pass_obj
def ui(state: State, host: str, port: int) -> None:
    """Serve the web UI (Chat, Segments, Customer, Campaign brief).

    Beyond 127.0.0.1 a password is required: set SEGASSIST_UI_PASSWORD (user
    SEGASSIST_UI_USER, default 'segassist') or ui_password in the settings file.
    """
    from segassist.ui.app import access, serve
    from segassist.ui.services import Services
    from segassist.warehouse.db import require_schema

    settings = state.settings
    access(host, settings.ui_user, settings.ui_password, settings.gradio_server_name)  # first
    require_schema(state.engine)
    services = Services(
        state.engine,
        state.existing_review_index(),
        state.settings.llm_url,
        state.settings.home / "exports",
        llm_record=state.settings.home / "llm-server.json",
    )
    click.echo(f"segassist UI on http://{host}:{port} (Ctrl+C to stop)")
    serve(
        services,
        host,
        port,
        settings.ui_user,
        settings.ui_password,
        settings.gradio_server_name,
        quiet=True,
    )


@cli.command()
@click.argument("amazon_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--model",
    "model_key",
    type=click.Choice(list(MODELS)),
    help="Local LLM behind the chat (default: the llm_model setting, 1.5b).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=7860, show_default=True)
@click.option("--llm-port", type=int, default=DEFAULT_PORT, show_default=True)
@click.pass_context
def demo(
    ctx: click.Context,
    amazon_file: Path,
    model_key: str | None,
    host: str,
    port: int,
    llm_port: int,
) -> None:
    """Build everything the UI needs from the Amazon reviews file, then serve the UI.

    Import, index, train, score, pull and serve the LLM: each step reuses what a
    previous run built (the import ledger, the incremental index, the serving
    model and its scores, the verified model file, a server already answering).
    """
    from segassist import cli_agent, cli_segmenter
    from segassist import cli_data as commands
    from segassist.agent.client import LLMUnavailableError, probe_completion

    state: State = ctx.obj
    model_key = model_key or state.settings.llm_model
    started = time.monotonic()

    def stage(title: str) -> None:
        click.secho(f"\n== {title} ({time.monotonic() - started:.0f} s)", bold=True)

    stage("database")
    ctx.invoke(commands.init)
    stage("import")
    ctx.invoke(commands.import_group.get_command(ctx, "amazon"), paths=(amazon_file,), force=False)
    stage("review index")
    ctx.invoke(commands.index, model=None, rebuild=False)
    stage("segmenter")
    if _scored(state.engine):
        click.echo("A trained and scored model is serving: kept (run 'segassist train' to redo).")
    else:
        ctx.invoke(cli_segmenter.train)
        ctx.invoke(cli_segmenter.score)
    stage("LLM")
    ctx.invoke(cli_agent.pull, model=model_key)
    url = f"http://127.0.0.1:{llm_port}/v1"
    try:
        probe_completion(url)
        click.echo(f"An LLM server already completes requests at {url}: kept.")
    except LLMUnavailableError:
        ctx.invoke(
            cli_agent.serve,
            model_key=model_key,
            backend="auto",
            port=llm_port,
            host="127.0.0.1",
            background=True,
        )
    state.settings = state.settings.with_overrides(llm_url=url)
    stage("UI")
    ctx.invoke(ui, host=host, port=port)


def _scored(engine) -> bool:
    """A serving model exists and customers were scored with it."""
    from segassist.warehouse.queries import has_scores, serving_version_id

    version = serving_version_id(engine)
    return version is not None and has_scores(engine, version)
