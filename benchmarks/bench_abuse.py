"""The API under abuse: each attack against a fresh ``python -m fakeusers serve`` on loopback.

For every attack a new server starts (shipped defaults unless said), the attack runs, and the
script prints what the attacker got (statuses), whether ``/health`` kept answering, how long
stalled connections were held, how much the server's log grew, and the server's peak memory
(``VmHWM`` of its process) next to its memory when idle:

- ``slow-1000``: 1,000 clients that send half a request's headers and stop;
- ``slow-1000-lowfiles``: the same against a server whose open-file limit is 256;
- ``stalled-100``: 100 clients that stop half-way (50 in the headers, 50 in a body);
- ``csv-95MB``: one ``text/csv`` body of ~95 MB (~3M events) to ``/predict``;
- ``csv-55MB-x3``: three ~55 MB CSV bodies at once;
- ``json-5M-users``: a 95 MB JSON body of 5M users' columns;
- ``json-invalid-90MB``: a 90 MB JSON array that is not a log;
- ``json-near-budget``: a JSON body just under the values budget (3M values);
- ``train-95MB-x4``: four trainings on a ~95 MB labelled log at once.

Everything goes to 127.0.0.1, bounded in count and time. Run from the repository root::

    python benchmarks/bench_abuse.py [--only NAME ...] [--memory 1GB]

With ``--memory`` the servers run with that ``FAKEUSERS_API_MAX_MEMORY``: their peak should
stay under their idle memory plus that budget.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout, without installing
    sys.path.insert(0, str(ROOT))

from fakeusers.demo import generate_log  # noqa: E402
from fakeusers.models import train  # noqa: E402
from fakeusers.reading import read_logs  # noqa: E402
from fakeusers.store import ModelStore  # noqa: E402

HALF_HEADERS = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
UNSENT_BODY = (
    b"POST /verdicts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 100000\r\n\r\n{"verdicts": ['
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def csv_bytes(n_events: int, seed: int, labelled: bool = False) -> bytes:
    table = generate_log(n_events, seed=seed)
    if not labelled:
        table = table.drop_columns(["Fake"])
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Server:
    """``python -m fakeusers serve`` in a subprocess with its own store and database."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None, files: int = 0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"server-{self.port}.log"

        def limit_files() -> None:
            if files:
                resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fakeusers", "serve", "--port", str(self.port)]
                + ["--models-dir", str(folder / "models")],
                cwd=ROOT,
                env={
                    **os.environ,
                    "PYTHONPATH": str(ROOT),
                    "FAKEUSERS_DB_URL": f"sqlite:///{folder / 'review.db'}",
                    **(env or {}),
                },
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=limit_files,
            )
        deadline = time.monotonic() + 60
        while not self.healthy(1.0):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start:\n{self.log.read_text()}")
            time.sleep(0.1)
        self.idle_mb = kib(self.process.pid, "VmRSS") / 1024

    def healthy(self, timeout: float = 2.0) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=timeout, trust_env=False).is_success
        except httpx.HTTPError:
            return False

    def peak_mb(self) -> float:
        return kib(self.process.pid, "VmHWM") / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def post_many(url: str, bodies: list[tuple[str, bytes, str]]) -> list[str]:
    """POST each (path, body, content type) at once; the statuses (or the error's name)."""

    def one(item: tuple[str, bytes, str]) -> str:
        path, body, kind = item
        try:
            r = httpx.post(
                url + path,
                content=body,
                headers={"Content-Type": kind},
                timeout=600,
                trust_env=False,
            )
            return str(r.status_code)
        except httpx.HTTPError as exc:
            return type(exc).__name__

    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


def slow_clients(server: Server, n: int, seconds: float, payloads: list[bytes]) -> dict:
    """Open ``n`` connections that each send a payload and stop; watch for ``seconds``."""
    sockets, refused = [], 0
    for i in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", server.port), timeout=2)
            s.sendall(payloads[i % len(payloads)])
            s.setblocking(False)
            sockets.append(s)
        except OSError:
            refused += 1
    opened = time.monotonic()
    held = set(sockets)
    closed_at: list[float] = []
    health_ok = health_total = 0
    with selectors.DefaultSelector() as watch:
        for s in sockets:
            watch.register(s, selectors.EVENT_READ)
        while time.monotonic() - opened < seconds and (held or health_total < 5):
            health_total += 1
            health_ok += server.healthy(2.0)
            for key, _ in watch.select(timeout=0.5):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    watch.unregister(key.fileobj)
                    held.discard(key.fileobj)
                    closed_at.append(time.monotonic() - opened)
    for s in sockets:
        s.close()
    return {
        "connected": len(sockets),
        "refused at connect": refused,
        "closed by server": len(closed_at),
        "still held": len(held),
        "last closed after s": round(max(closed_at), 1) if closed_at else None,
        "health answered": f"{health_ok}/{health_total}",
    }


def run(name: str, folder: Path, model_ready: Path, memory: str | None) -> dict:
    env: dict[str, str] = {"FAKEUSERS_API_MAX_MEMORY": memory} if memory else {}
    files = 0
    if name == "slow-1000-lowfiles":
        files = 256
    if name.startswith(("csv", "json", "train")):
        env["FAKEUSERS_API_MAX_BYTES"] = "100MB"
    sub = Path(tempfile.mkdtemp(dir=folder))
    (sub / "models").symlink_to(model_ready) if not name.startswith("train") else None
    server = Server(sub, env, files)
    before_log = server.log.stat().st_size
    start = time.monotonic()
    try:
        if name in ("slow-1000", "slow-1000-lowfiles"):
            result = slow_clients(server, 1000, 45, [HALF_HEADERS])
        elif name == "stalled-100":
            result = slow_clients(server, 100, 45, [HALF_HEADERS, UNSENT_BODY])
        elif name == "csv-95MB":
            body = csv_bytes(3_000_000, 3)[: 95 * 2**20]
            body = body[: body.rindex(b"\n") + 1]
            result = {"statuses": post_many(server.url, [("/predict", body, "text/csv")])}
        elif name == "csv-55MB-x3":
            body = csv_bytes(1_800_000, 4)
            result = {
                "MB": round(len(body) / 2**20),
                "statuses": post_many(server.url, [("/predict", body, "text/csv")] * 3),
            }
        elif name == "json-5M-users":
            n = 5_000_000
            body = json.dumps(
                {"UserId": [str(i) for i in range(n)], "Event": ["view"] * n}
            ).encode()[: 95 * 2**20]
            result = {"statuses": post_many(server.url, [("/predict", body, "application/json")])}
        elif name == "json-invalid-90MB":
            body = b"[" + b"1," * (45 * 2**20 - 1) + b"1]"
            result = {"statuses": post_many(server.url, [("/predict", body, "application/json")])}
        elif name == "json-near-budget":
            log = generate_log(900_000, seed=5)
            columns = {c: log.column(c).to_pylist() for c in ("UserId", "Event", "Category")}
            body = json.dumps(columns).encode()
            result = {
                "MB": round(len(body) / 2**20),
                "statuses": post_many(server.url, [("/predict", body, "application/json")]),
            }
        elif name == "train-95MB-x4":
            body = csv_bytes(3_000_000, 6, labelled=True)[: 95 * 2**20]
            body = body[: body.rindex(b"\n") + 1]

            def form(i: int) -> str:
                try:
                    r = httpx.post(
                        server.url + "/train",
                        files={"file": ("train.csv", body)},
                        data={"name": f"m{i}"},
                        timeout=900,
                        trust_env=False,
                    )
                    return str(r.status_code)
                except httpx.HTTPError as exc:
                    return type(exc).__name__

            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                result = {"statuses": list(pool.map(form, range(4)))}
        else:
            raise SystemExit(f"unknown attack {name}")
        result["health after"] = server.healthy(5.0)
        result["seconds"] = round(time.monotonic() - start, 1)
        result["idle MB"] = round(server.idle_mb)
        result["peak MB"] = round(server.peak_mb())
        result["log grew KB"] = round((server.log.stat().st_size - before_log) / 1024, 1)
        result["tracebacks in log"] = server.log.read_text(errors="replace").count("Traceback")
    finally:
        server.stop()
    return result


ATTACKS = [
    "stalled-100",
    "slow-1000",
    "slow-1000-lowfiles",
    "csv-95MB",
    "csv-55MB-x3",
    "json-5M-users",
    "json-invalid-90MB",
    "json-near-budget",
    "train-95MB-x4",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=ATTACKS, help="attacks to run (default all)")
    parser.add_argument(
        "--memory", help="the servers' FAKEUSERS_API_MAX_MEMORY (default: theirs, half the RAM)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = ModelStore(folder / "shared-models")
        log = read_logs([("train.csv", csv_bytes(50_000, 1, labelled=True))])
        store.save("june", train(log, "logistic", random_state=0))
        for name in args.only or ATTACKS:
            result = run(name, folder, store.root, args.memory)
            print(f"{name:20s} " + "  ".join(f"{k}: {v}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    main()
