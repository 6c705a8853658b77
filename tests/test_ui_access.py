"""Who reaches the UI: a real app served with a password answers nothing but the login
page and static assets before login; binds beyond loopback need a password, however the
address is spelled (an empty host, 0.0.0.0, GRADIO_SERVER_NAME)."""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import free_port
from segassist.core.errors import UserInputError

USER, PASSWORD = "ana", "correct horse battery"
PROTECTED = [
    ("GET", "/config"),
    ("GET", "/gradio_api/info"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/gradio_api/openapi.json"),
    ("POST", "/gradio_api/reset"),
    ("POST", "/gradio_api/cancel"),
    ("POST", "/gradio_api/queue/join"),
    ("GET", "/gradio_api/queue/data?session_hash=x"),
    ("POST", "/gradio_api/call/chat"),
    ("POST", "/gradio_api/upload"),
    ("GET", "/gradio_api/file=/etc/passwd"),
    ("GET", "/monitoring"),
    ("GET", "/gradio_api/startup-events"),
    ("GET", "/gradio_api/heartbeat/x"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The real app on an empty database, with a password, on loopback."""
    from segassist.ui.app import serve
    from segassist.ui.services import Services
    from segassist.warehouse.db import migrate, open_engine

    folder = tmp_path_factory.mktemp("ui-access")
    engine = open_engine(f"sqlite:///{folder / 'w.db'}")
    migrate(engine)
    port = free_port()
    services = Services(engine, None, "http://127.0.0.1:9/v1", folder / "exports")
    app = serve(services, "127.0.0.1", port, USER, PASSWORD, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}"
    app.close()


def _status(opener, method: str, url: str) -> int:
    data = b"{}" if method == "POST" else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with opener.open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_nothing_but_the_login_page_answers_before_login(served):
    anonymous = urllib.request.build_opener()
    for method, path in PROTECTED:
        assert _status(anonymous, method, served + path) == 401, path
    assert _status(anonymous, "GET", served + "/") == 200


def test_after_login_the_app_answers(served):
    jar = http.cookiejar.CookieJar()
    user = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    wrong = urllib.parse.urlencode({"username": USER, "password": "nope"}).encode()
    with pytest.raises(urllib.error.HTTPError):
        user.open(served + "/login", data=wrong, timeout=30)
    assert _status(user, "GET", served + "/config") == 401
    form = urllib.parse.urlencode({"username": USER, "password": PASSWORD}).encode()
    with user.open(served + "/login", data=form, timeout=30) as response:
        assert response.status == 200
    assert _status(user, "GET", served + "/config") == 200
    assert _status(user, "GET", served + "/gradio_api/info") == 200


def test_binds_beyond_loopback_need_a_password():
    from segassist.core.settings import load_settings
    from segassist.ui.access import access, bind_address

    assert bind_address("") == "0.0.0.0"
    public = load_settings({"GRADIO_SERVER_NAME": "0.0.0.0"}).gradio_server_name
    with pytest.raises(UserInputError, match="without a password"):
        access("127.0.0.1", "segassist", None, public)
    with pytest.raises(UserInputError, match="without a password"):
        access("", "segassist", None)
    assert access("", "segassist", "pw", public) == [("segassist", "pw")]
    local = load_settings({"GRADIO_SERVER_NAME": "127.0.0.1"}).gradio_server_name
    assert access("127.0.0.1", "segassist", None, local) is None


def test_the_cli_refuses_an_empty_host_without_a_password(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    cli = str(Path(sys.executable).parent / "segassist")
    result = subprocess.run(
        [cli, "ui", "--host", "", "--port", str(free_port())],
        env={
            "PATH": str(Path(sys.executable).parent),
            "SEGASSIST_HOME": str(tmp_path),
            "GRADIO_SERVER_NAME": "0.0.0.0",
            "HOME": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "without a password" in result.stderr
