"""HTTP hygiene, as one plain ASGI middleware: the `Host` header checked against the names the
server answers to (a DNS-rebinding page reaches a loopback server under its own name, and is
refused), HEAD answered wherever GET is (headers, no body), and security headers on every
response: the page may not be framed (clickjacking), run scripts or styles from elsewhere, nor
have its types sniffed.

`allowed_hosts`: host names (no port) the server answers to; "*" or None: any. `embedrec
serve` passes `--allowed-host`, by default the bound address plus the loopback names, or any
when bound to every interface (0.0.0.0, ::).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embedrec.service.errors import error_response

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# the page and the API: nothing from elsewhere, no inline script, never framed
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# /docs and /redoc start Swagger UI and ReDoc with an inline script (files shipped, no CDN)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def host_name(header: str) -> str:
    """The name in a Host header, without its port: 'localhost:8000' -> 'localhost',
    '[::1]:8000' -> '::1'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def default_hosts(bound: str) -> list[str] | None:
    """The hosts a server bound to `bound` answers to when none are given: any (None) on every
    interface, else the bound name and the loopback names."""
    if bound in ("0.0.0.0", "::", ""):
        return None
    return sorted({bound.lower(), *LOOPBACK_HOSTS})


class Hygiene:
    """ASGI middleware: Host check (400), HEAD as GET without a body, security headers."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] | None = None):
        self.app = app
        hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
        self.allowed_hosts = None if hosts is None or "*" in hosts else hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"].startswith(DOCS_PATHS) else PAGE_POLICY
        head = scope["method"] == "HEAD"

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [*SECURITY_HEADERS, (b"content-security-policy", policy.encode())]
                message = {**message, "headers": headers}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        if self.allowed_hosts is not None:
            given = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
            if host_name(given) not in self.allowed_hosts:
                refused = error_response(
                    400,
                    f"this server does not answer to the host {given!r}; "
                    "start it with --allowed-host NAME for each name clients use",
                )
                await refused(scope, receive, secured)
                return
        if head:
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, secured)
