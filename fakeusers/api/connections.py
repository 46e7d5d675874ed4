"""Connections that stop sending are closed: stalled request headers and stalled bodies.

uvicorn closes a keep-alive connection that sends nothing after a response, but a client that
opens a connection and sends half a request line, or a header a byte now and then, or a
Content-Length it never fills, is held forever: a thousand such clients hold a thousand
sockets and, under a low file limit, lock everyone else out. :class:`GuardedH11Protocol` is
uvicorn's own HTTP/1.1 protocol with two clocks:

- **headers**: a request's line and headers must be complete within
  ``FAKEUSERS_API_HEADER_TIMEOUT`` seconds (default 10) of the connection opening, or of the
  first byte after the previous response; dribbling bytes does not reset it;
- **body**: while a body is being received, ``FAKEUSERS_API_BODY_TIMEOUT`` seconds (default 20)
  may pass between two pieces of it, no more. The clock stops while the server itself holds
  reading back (the app has not taken the previous piece yet).

A connection over either clock is closed; the server logs one warning line, and at most one
every ten seconds with the count of the others, so a flood of stalled clients cannot flood the
log. :func:`connection_budget` raises the process's file limit to what the system allows and
sizes the connection cap (``FAKEUSERS_API_MAX_CONNECTIONS``) within it, so the cap answers 503
before the operating system runs out of descriptors.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from fakeusers.api.budgets import from_env
from fakeusers.errors import FakeusersError

__all__ = [
    "BODY_TIMEOUT_ENV",
    "HEADER_TIMEOUT_ENV",
    "MAX_CONNECTIONS_ENV",
    "GuardedH11Protocol",
    "connection_budget",
    "timeouts",
]

HEADER_TIMEOUT_ENV = "FAKEUSERS_API_HEADER_TIMEOUT"
BODY_TIMEOUT_ENV = "FAKEUSERS_API_BODY_TIMEOUT"
MAX_CONNECTIONS_ENV = "FAKEUSERS_API_MAX_CONNECTIONS"
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 20.0
DEFAULT_MAX_CONNECTIONS = 4096
# Descriptors kept for what is not a client connection: the listening socket, the database,
# model files, logs being read, worker pipes.
_RESERVED_FILES = 64

_log = logging.getLogger("fakeusers.api")


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise FakeusersError(
            f"{name} must be a number of seconds above 0 and at most 3600; got {text!r}."
        )
    return value


def timeouts() -> tuple[float, float]:
    """The header and body timeouts in seconds, from the environment.

    Raises
    ------
    FakeusersError
        When either is set to anything but a number of seconds in (0, 3600].
    """
    return (
        _seconds(HEADER_TIMEOUT_ENV, DEFAULT_HEADER_TIMEOUT),
        _seconds(BODY_TIMEOUT_ENV, DEFAULT_BODY_TIMEOUT),
    )


def connection_budget() -> int:
    """Raise the open-file limit to the hard limit and return the connection cap within it.

    The cap is ``FAKEUSERS_API_MAX_CONNECTIONS`` (default 4096), lowered to what the file limit
    leaves after a reserve; uvicorn answers 503 to a request beyond it.

    Raises
    ------
    FakeusersError
        When the variable is not a positive whole number.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    wanted = from_env(MAX_CONNECTIONS_ENV, DEFAULT_MAX_CONNECTIONS)
    return max(1, min(wanted, soft - _RESERVED_FILES))


class _StallLog:
    """One warning line, then at most one every ``every`` seconds with the count since."""

    def __init__(self, every: float = 10.0) -> None:
        self.every, self.last, self.unsaid = every, -float("inf"), 0

    def say(self, line: str) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            self.unsaid += 1
            return
        others = (
            f" (and {self.unsaid} more like it since the last such line)" if self.unsaid else ""
        )
        _log.warning("%s%s.", line, others)
        self.last, self.unsaid = now, 0


_stalls = _StallLog()
_over_cap = _StallLog()
_out_of_files = _StallLog()

_BUSY_BODY = (
    b'{"detail": "The server has as many connections open as it allows; try again in a few '
    b'seconds."}'
)
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"retry-after: 5\r\nconnection: close\r\ncontent-length: "
    + str(len(_BUSY_BODY)).encode()
    + b"\r\n\r\n"
    + _BUSY_BODY
)


def _quiet_about_descriptors(loop: Any, context: dict[str, Any]) -> None:
    """asyncio's handler, but "out of file descriptors" is one line, at most every 10 s.

    asyncio logs each failed ``accept()`` with its traceback; with the file limit reached
    that is thousands of lines a second.
    """
    if "out of system resource" in str(context.get("message", "")):
        _out_of_files.say(
            f"Could not accept a connection: {context.get('exception')}; raise the open-file "
            f"limit (ulimit -n) or lower {MAX_CONNECTIONS_ENV}"
        )
        return
    loop.default_exception_handler(context)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing connections whose headers or body stall."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout, self.body_timeout = timeouts()
        self._clock: Any = None
        self._clock_kind: str | None = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.loop.get_exception_handler() is None:
            self.loop.set_exception_handler(_quiet_about_descriptors)
        cap = self.limit_concurrency
        if cap is not None and len(self.connections) > cap:
            # Over the cap: let go at once, before a request is even read, so descriptors
            # stay free and the queue of waiting connections keeps moving.
            _over_cap.say(
                f"Answered 503 to {self._client_name()} at once: {cap} connections are open, "
                f"the limit ({MAX_CONNECTIONS_ENV})"
            )
            transport.write(_BUSY)
            transport.close()
            return
        self._start("headers", self.header_timeout)

    def _client_name(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            self._stop()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            # A request is on its way: its headers have their deadline, set by the first byte
            # and not moved by the ones that follow.
            if self._clock_kind != "headers":
                self._start("headers", self.header_timeout)
        elif state is h11.SEND_BODY:
            self._start("body", self.body_timeout)
        else:
            self._stop()  # the request is in: the server's turn

    def on_response_complete(self) -> None:
        self._stop()
        super().on_response_complete()

    def _start(self, kind: str, seconds: float) -> None:
        self._stop()
        self._clock_kind = kind
        self._clock = self.loop.call_later(seconds, self._expired)

    def _stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
        self._clock, self._clock_kind = None, None

    def _expired(self) -> None:
        kind = self._clock_kind
        self._clock, self._clock_kind = None, None
        if self.transport.is_closing():
            return
        if kind == "body" and self.flow.read_paused:
            # The server holds reading back, not the client: wait for the app.
            self._start("body", self.body_timeout)
            return
        client = self._client_name()
        what = (
            f"no complete request headers within {self.header_timeout:g} s"
            if kind == "headers"
            else f"no part of the request body for {self.body_timeout:g} s"
        )
        _stalls.say(f"Closed the connection from {client}: {what}")
        self.transport.close()
