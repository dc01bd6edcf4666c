"""Slow clients are cut off: a connection must send a request's headers within `header_timeout_s` and its
body within `body_timeout_s`, or it is closed. uvicorn times out only idle keep-alive connections, so a
client that never finishes its headers (or trickles a body a byte at a time) would hold a connection, and a
worker's memory, for ever. The number of connections is capped by uvicorn's `limit_concurrency` (503 past it).

`guarded_protocol(settings)` is uvicorn's own HTTP protocol (httptools where installed, else h11) with these
two deadlines; a deadline is set once per phase, so trickled bytes do not extend it.

Example::

    uvicorn.run(app, host="127.0.0.1", port=8000, **server_options(settings))
"""

from __future__ import annotations

from embedlab.serve.settings import ServeSettings


class _Deadlines:
    """Mixed into a uvicorn HTTP protocol: one timer for the phase the connection is in (headers, body)."""

    header_timeout_s = 10.0
    body_timeout_s = 30.0
    cut_off = 0  # connections closed for being too slow, across this process (read by tests and logs)

    def connection_made(self, transport) -> None:
        self._timer = None
        self._phase: str | None = None
        super().connection_made(transport)  # type: ignore[misc]
        self._follow()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._follow()

    def connection_lost(self, exc) -> None:
        self._cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def _follow(self) -> None:
        cycle = self.cycle  # type: ignore[attr-defined]
        if cycle is None or cycle.response_complete:
            phase: str | None = "headers"  # waiting for (the rest of) a request's headers
        elif cycle.more_body:
            phase = "body"
        else:
            phase = None  # the request is in; the handler's own deadline (request_timeout_s) applies
        if phase != self._phase:
            self._cancel()
            self._phase = phase
            if phase is not None:
                seconds = self.header_timeout_s if phase == "headers" else self.body_timeout_s
                self._timer = self.loop.call_later(seconds, self._cut)  # type: ignore[attr-defined]

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _cut(self) -> None:
        transport = self.transport  # type: ignore[attr-defined]
        if not transport.is_closing():
            type(self).cut_off += 1
            transport.close()


def guarded_protocol(settings: ServeSettings) -> type:
    """Uvicorn's HTTP protocol class with the settings' header and body deadlines.

    Example::

        uvicorn.run(app, http=guarded_protocol(ServeSettings(header_timeout_s=5)))
    """
    base: type
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    except ImportError:  # httptools is optional in uvicorn
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol

    return type(
        "GuardedHTTPProtocol",
        (_Deadlines, base),
        {"header_timeout_s": settings.header_timeout_s, "body_timeout_s": settings.body_timeout_s},
    )


def server_options(settings: ServeSettings) -> dict:
    """Uvicorn's options for the service: the guarded protocol, the connection cap, the shutdown grace.

    Example::

        uvicorn.run(create_app(settings), port=8000, **server_options(settings))
    """
    return {
        "http": guarded_protocol(settings),
        "limit_concurrency": settings.max_connections,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_s),
    }
