"""The LLM server's life cycle: readiness is a real completion, a crash is named with
what to do, a background server that dies is restarted once, and the compiled engine
is portable (no AMX instructions, which kill it on hosts whose VM does not enable them).

The crashing servers here are real processes that really die by SIGILL: llama.cpp
cannot be made to crash on demand, and what is tested is how we notice and recover.
"""

from __future__ import annotations

import importlib.util
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import free_port

# An OpenAI-compatible stand-in that lists a model and then, on a completion, either
# answers or dies by SIGILL as a native llama.cpp build does on an AMX-less VM.
SERVER = textwrap.dedent(
    """
    import json, os, signal, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    port, crash_flag = int(sys.argv[1]), sys.argv[2]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send({"data": [{"id": "stand-in"}]})

        def do_POST(self):
            if os.path.exists(crash_flag):
                os.kill(os.getpid(), signal.SIGILL)
            self.rfile.read(int(self.headers["Content-Length"]))
            self._send({"choices": [{"message": {"role": "assistant", "content": "OK"}}]})

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
    """
)


@pytest.fixture
def stand_in(tmp_path):
    """(command, url, crash flag path) for a stand-in server on a free port."""
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    flag = tmp_path / "crash"
    port = free_port()
    command = [sys.executable, str(script), str(port), str(flag)]
    return command, f"http://127.0.0.1:{port}/v1", flag


def test_sigill_names_the_portable_rebuild():
    from segassist.agent.serving import exit_reason

    assert "LLAMA_ISA=avx2" in exit_reason(-signal.SIGILL)
    assert "memory" in exit_reason(-signal.SIGKILL)
    assert "code 3" in exit_reason(3)
    assert "unknown" in exit_reason(None)


def test_readiness_needs_a_completion_not_a_model_list(stand_in, tmp_path):
    """A server that lists its models but dies on the first completion is not 'ready'."""
    from segassist.agent.serving import start_server
    from segassist.core.errors import InfrastructureError

    command, url, flag = stand_in
    flag.touch()
    with pytest.raises(InfrastructureError, match=r"SIGILL.*LLAMA_ISA=avx2"):
        start_server(command, url, tmp_path / "server.log", timeout_s=30)


def test_a_dead_background_server_is_restarted_once(stand_in, tmp_path):
    from segassist.agent.client import LLMUnavailableError, probe_completion
    from segassist.agent.serving import ServerRecord, recover_server, start_server

    command, url, flag = stand_in
    log, record_path = tmp_path / "server.log", tmp_path / "llm-server.json"
    process = start_server(command, url, log, timeout_s=30)
    ServerRecord(process.pid, command, url, str(log)).save(record_path)
    assert oct(record_path.stat().st_mode)[-3:] == "600"
    assert recover_server(record_path) is None  # alive: nothing to do

    flag.touch()
    with pytest.raises(LLMUnavailableError):
        probe_completion(url, timeout_s=10)
    process.wait(timeout=10)
    flag.unlink()
    message, restarted = recover_server(record_path, process.returncode)
    assert "SIGILL" in message and "restarted" in message
    assert probe_completion(url, timeout_s=10) > 0
    assert ServerRecord.load(record_path).pid == restarted.pid

    flag.touch()  # it dies again: no second restart, but what to do
    with pytest.raises(LLMUnavailableError):
        probe_completion(url, timeout_s=10)
    restarted.wait(timeout=10)
    with pytest.raises(LLMUnavailableError, match="stopped again after a restart"):
        recover_server(record_path, restarted.returncode)


def test_an_orphaned_dead_server_is_restarted_from_its_record(stand_in, tmp_path):
    """The record outlives the CLI that started the server (`llm serve --background`):
    a pid that is gone is noticed without being our child."""
    from segassist.agent.client import probe_completion
    from segassist.agent.serving import ServerRecord, recover_server

    command, url, _ = stand_in
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    record_path = tmp_path / "llm-server.json"
    ServerRecord(gone.pid, command, url, str(tmp_path / "server.log")).save(record_path)
    message, process = recover_server(record_path)
    try:
        assert "stopped" in message
        assert probe_completion(url, timeout_s=10) > 0
    finally:
        process.terminate()
        process.wait(timeout=10)


AMX = re.compile(
    r"\b(tilezero|tileloadd|tileloaddt1|tilestored|ldtilecfg|tdpb[su]{2}d|tdpbf16ps)\b"
)


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="make install-llm")
def test_the_installed_engines_have_no_amx_instructions():
    """A native build on a host that advertises AMX emits tile instructions, and dies by
    SIGILL where the VM does not enable the tile state. Ours must have none: the
    llama-cpp-python libraries and the llama-server binary (`make install-llm` builds
    both)."""
    import llama_cpp
    from segassist.agent.serving import llama_server_binary

    libraries = sorted((Path(llama_cpp.__file__).parent / "lib").glob("libggml*.so*"))
    assert libraries, "llama_cpp ships no libggml"
    server = llama_server_binary()
    assert server is not None, "llama-server is not installed (make install-llm-engine)"
    for library in [*libraries, server]:
        listing = subprocess.run(
            ["objdump", "-d", "--no-show-raw-insn", str(library)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found = AMX.search(listing)
        assert found is None, f"{library.name} contains the AMX instruction {found.group(0)}"


def test_stop_kills_a_server_that_ignores_sigterm(tmp_path):
    """A llama.cpp server busy with a generation ignores SIGTERM; stop must not hang."""
    import time

    from segassist.agent.serving import stop_server

    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)",
        ]
    )
    time.sleep(0.5)
    started = time.monotonic()
    assert stop_server(stubborn.pid, grace_s=1)
    assert stubborn.wait(timeout=10) == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_the_demo_starts_the_assistant_once_the_engine_is_built(tmp_path):
    """make demo serves the UI while the engine compiles: the assistant pulls the model,
    waits for the build's status file, reports a failed build with its log, and after a
    good one starts the real server and turns the chat on."""
    import threading
    import time

    from conftest import LLM_CACHE
    from segassist.agent.models import model_path
    from segassist.agent.serving import ServerRecord, stop_server
    from segassist.core.settings import load_settings
    from segassist.ui.services import AssistantStartup

    from segassist.cli_base import State
    from segassist.cli_ui import start_assistant

    if not model_path(LLM_CACHE, "0.5b").is_file() or importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("needs the engine and the 0.5b model (make install-llm)")
    environ = {"SEGASSIST_HOME": str(tmp_path), "SEGASSIST_LLM_CACHE": str(LLM_CACHE)}
    state = State(load_settings(environ), debug=False)
    status = tmp_path / "llm-engine.status"

    def run(startup: AssistantStartup) -> threading.Thread:
        thread = threading.Thread(
            target=start_assistant, args=(state, "0.5b", free_port(), status, startup)
        )
        thread.start()
        return thread

    failing = AssistantStartup()
    thread = run(failing)
    deadline = time.monotonic() + 60
    while failing.stage != "building the LLM engine" and time.monotonic() < deadline:
        time.sleep(0.2)  # pulling: the cached file is verified, then it waits on the build
    time.sleep(1)
    assert thread.is_alive() and not failing.ready and "still starting" in failing.status()
    assert "building the LLM engine" in failing.status()
    status.write_text("failed\n")
    thread.join(30)
    assert not failing.ready and "llm-engine.log" in failing.failed
    assert "could not start" in failing.status()

    status.write_text("ok\n")
    working = AssistantStartup()
    run(working).join(240)
    record = ServerRecord.load(tmp_path / "llm-server.json")
    try:
        assert working.ready and working.failed is None and working.status() == ""
    finally:
        if record is not None:
            stop_server(record.pid)


def test_an_empty_stream_from_the_server_is_an_empty_reply(monkeypatch):
    """llama.cpp's server can end a stream without a chunk (the 0.5B model's immediate end
    of text); LangChain then raised "No generations found in stream" and the question
    crashed in CI. The chat model gives an empty reply instead, which the agent asks
    again for. The server's stream is the one thing faked here."""
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI
    from segassist.agent.client import make_chat_model

    monkeypatch.setattr(ChatOpenAI, "_stream", lambda self, *args, **kwargs: iter(()))
    chat = make_chat_model("http://127.0.0.1:9/v1", model="m")
    chunks = list(chat._stream([HumanMessage("Quantos pedidos foram cancelados?")]))
    assert [c.message.content for c in chunks] == [""]
    assert chat.bind(stream=True).invoke("Quantos pedidos foram cancelados?").content == ""


def test_llama_server_is_the_cpu_default_with_one_slot_per_four_cores(tmp_path, monkeypatch):
    """`serve` prefers llama.cpp's own server where `make install-llm-engine` put it; its
    command serves the model with the chat template (tool calls parsed by the server)
    and one slot per four cores; without the binary, what to run is said."""
    from segassist.agent import serving
    from segassist.core.errors import UserInputError

    assert [serving.server_slots(c) for c in (1, 2, 4, 16)] == [1, 1, 1, 4]
    model = tmp_path / "m.gguf"
    if serving.llama_server_binary() is not None:
        assert serving.available_backend() == "llama-server"
        command = serving.server_command("llama-server", model, "127.0.0.1", 8080)
        assert command[0] == str(serving.llama_server_binary())
        assert "--jinja" in command and str(model) in command
        slots = serving.server_slots()
        assert command[command.index("--parallel") + 1] == str(slots)
        assert command[command.index("--ctx-size") + 1] == str(8192 * slots)
    monkeypatch.setattr(serving.sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert serving.llama_server_binary() is None
    with pytest.raises(UserInputError, match="make install-llm-engine"):
        serving.server_command("llama-server", model, "127.0.0.1", 8080)
