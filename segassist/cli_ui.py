"""The `ui` and `demo` commands: the Gradio app, and everything it needs in one command."""

from __future__ import annotations

import threading
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
    _serve_ui(state, host, port)


def _serve_ui(state: State, host: str, port: int, startup=None) -> None:
    """Serve the UI; `startup` when the LLM is still starting in the background."""
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
        startup=startup,
        examples=state.settings.agent_examples,
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
@click.option(
    "--engine-status",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file that says 'ok' or 'failed' once the LLM engine is built (make demo builds it "
    "in the background): until then the UI serves without the chat, which turns on by itself.",
)
@click.pass_context
def demo(
    ctx: click.Context,
    amazon_file: Path,
    model_key: str | None,
    host: str,
    port: int,
    llm_port: int,
    engine_status: Path | None,
) -> None:
    """Build everything the UI needs from the Amazon reviews file, then serve the UI.

    Import, index, train, score, pull and serve the LLM: each step reuses what a
    previous run built (the import ledger, the incremental index, the serving
    model and its scores, the verified model file, a server already answering).
    While the LLM engine is still being built (--engine-status), the UI comes up
    first and the assistant starts in the background.
    """
    from segassist import cli_agent, cli_segmenter
    from segassist import cli_data as commands
    from segassist.agent.client import LLMUnavailableError, probe_completion
    from segassist.ui.services import AssistantStartup

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
    url = f"http://127.0.0.1:{llm_port}/v1"
    state.settings = state.settings.with_overrides(llm_url=url)
    startup = None
    try:
        probe_completion(url)
        click.echo(f"An LLM server already completes requests at {url}: kept.")
    except LLMUnavailableError:
        if _engine_state(engine_status) == "ok":
            ctx.invoke(cli_agent.pull, model=model_key)
            cli_agent.start_recorded_server(state, model_key, "auto", llm_port)
        else:
            startup = AssistantStartup("building the LLM engine")
            click.echo(
                "The LLM engine is still being built (first run only; log next to "
                f"{engine_status}). The UI comes up now; the chat turns on when the engine "
                "answers."
            )
            later = (state, model_key, llm_port, engine_status, startup)
            threading.Thread(target=start_assistant, args=later, daemon=True).start()
    stage("UI")
    _serve_ui(state, host, port, startup)


def _engine_state(status: Path | None) -> str:
    """'ok', 'failed' or 'building' ('ok' when no build was started)."""
    if status is None:
        return "ok"
    try:
        return status.read_text().strip() or "building"
    except FileNotFoundError:
        return "building"


def start_assistant(state: State, model_key, port: int, status: Path, startup) -> None:
    """Pull the model while the engine builds, wait for the build, start the server."""
    from segassist.agent.models import pull_model
    from segassist.cli_agent import start_recorded_server

    try:
        startup.stage = "pulling the model while the LLM engine builds"
        pull_model(model_key, state.settings.llm_cache)
        startup.stage = "building the LLM engine"
        while (built := _engine_state(status)) == "building":
            time.sleep(5)
        if built != "ok":
            log = status.with_suffix(".log")
            startup.failed = f"the LLM engine did not build (see {log}); run 'make install-llm'."
            click.echo(startup.failed, err=True)
            return
        startup.stage = "starting the LLM server"
        start_recorded_server(state, model_key, "auto", port)
        startup.ready = True
        click.echo("The assistant is ready: the chat is on.")
    except Exception as e:  # shown in the chat; the other tabs keep working
        startup.failed = str(e)
        click.echo(f"The assistant could not start: {e}", err=True)


def _scored(engine) -> bool:
    """A serving model exists and customers were scored with it."""
    from segassist.warehouse.queries import has_scores, serving_version_id

    version = serving_version_id(engine)
    return version is not None and has_scores(engine, version)
