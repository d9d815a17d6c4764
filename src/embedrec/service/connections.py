"""Connections that hold a worker without asking anything are cut. uvicorn closes a keep-alive
connection idle `timeout_keep_alive` seconds after a response, but a connection that opens and
sends nothing, or sends its headers a byte at a time (slowloris), is kept forever: a few
hundred of them fill `--limit-concurrency` and every other client gets 503. `DeadlineProtocol`
is uvicorn's httptools protocol with a deadline on each request's headers: HEADER_SECONDS
from the connection's opening (or the first byte of a later request) to the end of its
headers, else the connection is closed. A slow body is the app's to refuse (`errors.Guard`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_SECONDS = 10.0  # a request's line and headers arrive within this, or the connection goes


class DeadlineProtocol(HttpToolsProtocol):
    """httptools' HTTP/1.1 protocol, closing a connection whose request headers are late."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first bytes of a request on a kept-alive connection
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(HEADER_SECONDS, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
