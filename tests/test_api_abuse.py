"""The API under abuse, over real sockets on loopback: clients that stall are let go.

``python -m fakeusers serve`` in a subprocess with its shipped timeouts; clients that send half
a request's headers, dribble header bytes, or announce a body they never send. Each is closed
by the server within 45 s while ``/health`` keeps answering, and the log says so in a line or
two, not a line a connection. ``benchmarks/bench_abuse.py`` measures the same attacks at
larger scale (1,000 slow clients, a low file limit, large bodies' peak memory).
"""

from __future__ import annotations

import selectors
import socket
import time
from pathlib import Path

import pytest

from fakeusers.api.connections import (
    BODY_TIMEOUT_ENV,
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    HEADER_TIMEOUT_ENV,
    MAX_CONNECTIONS_ENV,
    connection_budget,
    timeouts,
)
from fakeusers.errors import FakeusersError
from tests.support import api_server, run_cli

STALLED = 100
WITHIN = 45.0
HALF_HEADERS = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
UNSENT_BODY = (
    b"POST /verdicts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 100000\r\n\r\n{"verdicts": ['
)


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed ``sock`` (end of stream or a reset), reading what it
    sent first."""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_stalled_connections_are_closed_while_health_keeps_answering(tmp_path: Path) -> None:
    with api_server(tmp_path) as server:
        opened = time.monotonic()
        sockets = []
        for i in range(STALLED):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(HALF_HEADERS if i % 2 else UNSENT_BODY)
            sock.setblocking(False)
            sockets.append(sock)
        dribbler = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        dribbler.sendall(b"GET /health HTTP/1.1\r\n")

        open_ = set(sockets)
        answers = 0
        with server.client(timeout=5) as client, selectors.DefaultSelector() as watch:
            for sock in sockets:
                watch.register(sock, selectors.EVENT_READ)
            dribbled_until_closed = False
            while open_ and time.monotonic() - opened < WITHIN:
                assert client.get("/health").status_code == 200
                answers += 1
                try:  # a header byte a second does not keep a connection open
                    dribbler.sendall(b"X")
                except OSError:
                    dribbled_until_closed = True
                for key, _ in watch.select(timeout=1.0):
                    if closed_by_server(key.fileobj):
                        watch.unregister(key.fileobj)
                        open_.discard(key.fileobj)
        took = time.monotonic() - opened
        for sock in [*sockets, dribbler]:
            sock.close()
        assert not open_, f"{len(open_)} of {STALLED} stalled still open after {took:.0f} s"
        assert answers >= 5
        assert took >= DEFAULT_HEADER_TIMEOUT  # closed by the clocks, not at once
        assert dribbled_until_closed, "a client dribbling header bytes was never closed"
    log = server.log.read_text()
    closures = [line for line in log.splitlines() if "Closed the connection" in line]
    # One line, then at most one every ten seconds with the count of the rest.
    assert 1 <= len(closures) <= 1 + int(WITHIN // 10) + 1, log
    assert "no complete request headers within" in log or "no part of the request body" in log
    assert "Traceback" not in log


def test_the_timeouts_and_connection_cap_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert timeouts() == (DEFAULT_HEADER_TIMEOUT, DEFAULT_BODY_TIMEOUT)
    monkeypatch.setenv(HEADER_TIMEOUT_ENV, "2.5")
    monkeypatch.setenv(BODY_TIMEOUT_ENV, "7")
    assert timeouts() == (2.5, 7.0)
    monkeypatch.setenv(MAX_CONNECTIONS_ENV, "50")
    assert connection_budget() == 50
    for bad in ("0", "-1", "soon", "1e9"):
        monkeypatch.setenv(BODY_TIMEOUT_ENV, bad)
        with pytest.raises(FakeusersError, match="number of seconds"):
            timeouts()
    monkeypatch.setenv(MAX_CONNECTIONS_ENV, "many")
    with pytest.raises(FakeusersError, match="positive whole number"):
        connection_budget()


def test_a_bad_timeout_stops_serve_before_it_listens(tmp_path: Path) -> None:
    result = run_cli("serve", "--models-dir", str(tmp_path), env={HEADER_TIMEOUT_ENV: "forever"})
    assert result.returncode == 2
    assert "FAKEUSERS_API_HEADER_TIMEOUT must be a number of seconds" in result.stderr
    assert "Traceback" not in result.stderr
