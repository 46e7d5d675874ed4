"""Helpers shared by the tests: logs made on the fly, trained models, the CLI in a subprocess,
the probabilities, labels and costs that the decision tests draw, and their brute-force
references.

One place for what several test modules need, so a change of the CLI, the demo generator or
the store touches one helper, not every test.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fakeusers.demo import generate_log

ROOT = Path(__file__).resolve().parents[1]


def csv_bytes(
    n_events: int = 20_000,
    seed: int = 1,
    *,
    labelled: bool = True,
    timestamps: bool = True,
) -> bytes:
    """A synthetic log (the demo generator's) as CSV bytes."""
    table = generate_log(n_events, seed=seed, timestamps=timestamps)
    if not labelled:
        table = table.drop_columns(["Fake"])
    buf = io.BytesIO()
    pacsv.write_csv(table, buf)
    return buf.getvalue()


def shifted_csv_bytes(n_events: int = 20_000, seed: int = 1, *, labelled: bool = True) -> bytes:
    """A log of another shape than the demo's: 60% of the events turned into ad clicks and
    emails, the fake users' favourites, so a model trained on the demo flags a huge share."""
    import numpy as np
    import pyarrow.compute as pc

    table = generate_log(n_events, seed=seed, timestamps=True)
    rng = np.random.default_rng(seed)
    remapped = rng.random(table.num_rows) < 0.6
    new = pa.array(rng.choice(["click_ad", "send_email"], table.num_rows))
    events = pc.if_else(pa.array(remapped), new, table["Event"])
    table = table.set_column(table.schema.get_field_index("Event"), "Event", events)
    if not labelled:
        table = table.drop_columns(["Fake"])
    buf = io.BytesIO()
    pacsv.write_csv(table, buf)
    return buf.getvalue()


def write_log(path: Path, n_events: int = 20_000, seed: int = 1, **kwargs: bool) -> Path:
    """:func:`csv_bytes` written to ``path``."""
    path.write_bytes(csv_bytes(n_events, seed, **kwargs))
    return path


@functools.cache
def trained(
    n_events: int = 20_000, seed: int = 1, model_type: str = "logistic", timestamps: bool = True
):
    """A model trained on :func:`csv_bytes` (once per process: never mutate it)."""
    from fakeusers.models import train
    from fakeusers.reading import read_logs

    log = read_logs([("train.csv", csv_bytes(n_events, seed, timestamps=timestamps))])
    return train(log, model_type)


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m fakeusers ARGS`` in a subprocess, with no model store from the environment
    unless ``env`` gives one."""
    full_env = {k: v for k, v in os.environ.items() if k != "FAKEUSERS_MODELS_DIR"}
    full_env.update(PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "fakeusers", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=300,
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2, no traceback, exactly one ``error:`` line holding every one of ``words``."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running ``python -m fakeusers serve``: its URL, process and log file."""

    url: str
    port: int
    process: subprocess.Popen
    log: Path

    def client(self, timeout: float = 120) -> httpx.Client:
        # trust_env=False: a proxy set in the environment must not intercept localhost.
        return httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)


def wait_until_up(url: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    """Wait for ``/health`` to answer, failing with the server's log if it dies or never does."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the server did not start:\n{log.read_text()}")
        time.sleep(0.1)


@contextlib.contextmanager
def api_server(
    folder: Path, *args: str, env: dict[str, str] | None = None, log_name: str = "server.log"
) -> Iterator[Server]:
    """Run the API in a subprocess on a free loopback port until the block ends.

    The model store is ``folder/models`` unless ``args`` name one; the log goes to a file (a
    full pipe would block the server). On leaving, SIGTERM and a wait; the process is killed
    if it does not stop.
    """
    port = free_port()
    log = folder / log_name
    command = [sys.executable, "-m", "fakeusers", "serve", "--port", str(port), *args]
    if "--models-dir" not in args:
        command += ["--models-dir", str(folder / "models")]
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        server = Server(f"http://127.0.0.1:{port}", port, process, log)
        wait_until_up(server.url, process, log)
        yield server
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        # uvicorn finishes its shutdown, then lets the signal end the process.
        assert code in (0, -signal.SIGTERM), log.read_text()
    finally:
        process.kill()
        process.wait()


def table_bytes(columns: dict[str, list]) -> bytes:
    """A CSV log from columns."""
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(columns), buf)
    return buf.getvalue()


# Decisions and the cost curve ------------------------------------------------------------

# numpy's first calls are slow enough to trip hypothesis' per-example deadline.
no_deadline = settings(deadline=None)

# Mix in a few round values so ties between users (and exact 0 and 1) are common.
probability = st.one_of(
    st.floats(0.0, 1.0, allow_nan=False),
    st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0]),
)
probabilities = arrays(np.float64, st.integers(0, 40), elements=probability)
# Costs are amounts of money: zero, whole numbers, or from a millionth to a million.
cost = st.one_of(st.just(0.0), st.integers(0, 1000), st.floats(1e-6, 1e6))
costs = st.tuples(cost, cost).filter(lambda mf: mf[0] > 0 or mf[1] > 0)


@st.composite
def scored_users(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    p = draw(probabilities)
    y = draw(arrays(np.int64, p.size, elements=st.integers(0, 1)))
    return p, y


def brute_expected_cost(p, flagged, m, f) -> float:
    return math.fsum((1 - pi) * m if fl else pi * f for pi, fl in zip(p, flagged, strict=True))


def brute_counts(y, flagged) -> tuple[int, int, int, int]:
    tp = fp = fn = tn = 0
    for yi, fl in zip(y, flagged, strict=True):
        if fl and yi:
            tp += 1
        elif fl:
            fp += 1
        elif yi:
            fn += 1
        else:
            tn += 1
    return tp, fp, fn, tn


def brute_realised_cost(y, flagged, m, f) -> float:
    _, fp, fn, _ = brute_counts(y, flagged)
    return fp * m + fn * f


def close(a: float, b: float, scale: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * scale)


def calibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return p, (rng.random(n) < p).astype(int)


def typed_table(table: pa.Table) -> pa.Table:
    """A log of :func:`fakeusers.demo.generate_log` with the types a data lake gives it:
    int64 UserId, dictionary Event and Category, bool Fake, timestamp[us, UTC] Timestamp."""
    import pyarrow.compute as pc

    columns = {
        "UserId": table["UserId"].cast(pa.int64()),
        "Event": table["Event"].dictionary_encode(),
        "Category": table["Category"].dictionary_encode(),
    }
    if "Fake" in table.column_names:
        columns["Fake"] = pc.equal(table["Fake"], 1)
    if "Timestamp" in table.column_names:
        stamps = table["Timestamp"].cast(pa.timestamp("ms", tz="UTC"))
        columns["Timestamp"] = stamps.cast(pa.timestamp("us", tz="UTC"))
    return pa.table(columns)


def parquet_bytes(table: pa.Table, **kwargs) -> bytes:
    """``table`` written as a Parquet file's bytes (``kwargs`` to ``pyarrow.parquet``)."""
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **kwargs)
    return sink.getvalue().to_pybytes()
