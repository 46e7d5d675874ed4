"""What the REST API adds to scoring: /predict latency for 10k events over real HTTP.

Starts ``python -m fakeusers serve`` on a free localhost port with a freshly trained model,
then, for the same 10k-event log:

- POSTs it N times as JSON columns, as a ``text/csv`` body, and as JSON with costs;
- scores it N times in-process (``read_logs`` on the CSV bytes, then ``score_log``, the
  scoring path every face calls);

and prints the median and 90th-percentile latencies and each ratio to the in-process
median: the cost of HTTP, JSON and validation on top of the library. The first request,
which loads the model from the store, is timed separately.

Run from the repository root::

    python benchmarks/bench_api.py [--events 10000] [--repeats 30]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout, without installing
    sys.path.insert(0, str(ROOT))

from fakeusers.demo import generate_log  # noqa: E402
from fakeusers.models import train  # noqa: E402
from fakeusers.reading import read_logs  # noqa: E402
from fakeusers.scoring import score_log  # noqa: E402
from fakeusers.store import ModelStore  # noqa: E402

TRAIN_EVENTS = 20_000


def csv_bytes(table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timings_ms(run: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def p90(times: list[float]) -> float:
    return statistics.quantiles(times, n=10)[-1]


def start_server(models: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fakeusers", "serve", "--port", str(port)]
            + ["--models-dir", str(models)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/health", trust_env=False).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not start:\n{log.read_text()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events per request")
    parser.add_argument("--repeats", type=int, default=30, help="requests per variant")
    args = parser.parse_args()

    table = generate_log(args.events, seed=2)
    data = csv_bytes(table)
    columns = {c: table.column(c).to_pylist() for c in ("UserId", "Event", "Category")}
    body = json.dumps(columns).encode()

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        models = Path(tmp) / "models"
        trained = train(read_logs(("train.csv", csv_bytes(generate_log(TRAIN_EVENTS, seed=1)))))
        ModelStore(models).save("bench", trained)
        model = ModelStore(models).load("bench").model
        n_users = read_logs(("score.csv", data)).n_users

        process, url = start_server(models, Path(tmp) / "server.log")
        try:
            with httpx.Client(base_url=url, timeout=120, trust_env=False) as client:

                def post(content: bytes, media_type: str, params: dict | None = None):
                    def run() -> None:
                        r = client.post(
                            "/predict",
                            content=content,
                            headers={"content-type": media_type},
                            params=params,
                        )
                        if r.status_code != 200:
                            raise SystemExit(f"/predict answered {r.status_code}: {r.text}")

                    return run

                first = timings_ms(post(body, "application/json"), 1)[0]
                variants = {
                    "JSON columns": post(body, "application/json"),
                    "text/csv body": post(data, "text/csv"),
                    "JSON + costs": post(body, "application/json", {"cost_fp": 1, "cost_fn": 9}),
                }
                results = {name: timings_ms(run, args.repeats) for name, run in variants.items()}
        finally:
            process.terminate()
            process.wait(timeout=30)

        local = timings_ms(lambda: score_log(read_logs(("score.csv", data)), model), args.repeats)

    base = statistics.median(local)
    print(
        f"/predict on {args.events:,} events ({n_users:,} users); JSON body "
        f"{len(body) / 1e6:.2f} MB, CSV body {len(data) / 1e6:.2f} MB; {args.repeats} runs each"
    )
    print(f"first request (loads the model): {first:8.1f} ms")
    print(f"{'':28} {'median ms':>10} {'p90 ms':>8} {'x in-process':>13}")
    print(f"{'in-process read + score':28} {base:10.1f} {p90(local):8.1f} {1.0:13.2f}")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{'HTTP ' + name:28} {median:10.1f} {p90(times):8.1f} {median / base:13.2f}")


if __name__ == "__main__":
    main()
