"""Who may reach the UI: loopback without a password; anything else only with one, and
then no route but the login page and static assets answers before login.

Gradio's own `auth` leaves some routes open (`/openapi.json`, `/gradio_api/reset`,
`/gradio_api/cancel`, ...). `RequireLogin` sits in front of every route and checks
the same session cookie Gradio's login sets.
"""

from __future__ import annotations

import ipaddress
import socket

from segassist.core.errors import UserInputError

# Reachable before login: the login page itself and what it loads.
PUBLIC_PATHS = ("/", "/login", "/login/", "/favicon.ico", "/theme.css", "/robots.txt")
PUBLIC_PREFIXES = ("/static/", "/assets/", "/svelte/", "/manifest.json", "/pwa_icon")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost). An
    empty host binds every address, so it is not loopback."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False


def bind_address(host: str) -> str:
    """The address the server really binds: an empty host means every address (Gradio
    would otherwise fall back to GRADIO_SERVER_NAME)."""
    return host if host else "0.0.0.0"


def access(
    host: str, user: str, password: str | None, gradio_server_name: str | None = None
) -> list[tuple[str, str]] | None:
    """The credentials to require: none on loopback; a refusal on any other bind without a
    password (an empty host, 0.0.0.0, ::, a LAN address, or GRADIO_SERVER_NAME set to one,
    which the settings pass as `gradio_server_name`)."""
    env_host = gradio_server_name
    reachable = [h for h in (bind_address(host), env_host) if h is not None]
    if all(is_loopback(h) for h in reachable):
        return [(user, password)] if password else None
    if not password:
        shown = ", ".join(repr(h) for h in reachable if not is_loopback(h))
        raise UserInputError(
            f"Refusing to serve the UI on {shown}, which other machines can reach, without a "
            "password. Set SEGASSIST_UI_PASSWORD (and optionally SEGASSIST_UI_USER), or "
            "ui_password in the settings file, or bind to 127.0.0.1 (and unset "
            "GRADIO_SERVER_NAME)."
        )
    return [(user, password)]


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class RequireLogin:
    """ASGI middleware: with a password set, every route but the login page and static
    assets needs Gradio's login cookie (401 otherwise)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket") and not _is_public(scope.get("path", "")):
            gradio_app = scope.get("app")
            if (
                getattr(gradio_app, "auth", None)
                and not _starting(gradio_app, scope)
                and not _logged_in(gradio_app, scope)
            ):
                await _refuse(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _starting(gradio_app, scope) -> bool:
    """Gradio's launch calls its own startup route once, before anyone can log in."""
    return scope.get("path") == "/gradio_api/startup-events" and not getattr(
        gradio_app, "startup_events_triggered", True
    )


def _logged_in(gradio_app, scope) -> bool:
    from starlette.requests import HTTPConnection

    cookies = HTTPConnection(scope).cookies
    suffix = gradio_app.cookie_id
    token = cookies.get(f"access-token-{suffix}") or cookies.get(f"access-token-unsecure-{suffix}")
    return token is not None and token in gradio_app.tokens


async def _refuse(scope, receive, send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    from starlette.responses import JSONResponse

    await JSONResponse({"detail": "Not authenticated: log in first."}, status_code=401)(
        scope, receive, send
    )
