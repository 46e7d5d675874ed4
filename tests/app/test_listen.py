"""`streamlit run app.py`, as the README starts it, listens on this machine only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.test_api_server import listening_addresses

ROOT = Path(__file__).resolve().parents[2]


def ipv6_listeners(port: int) -> list[str]:
    rows = (
        Path("/proc/net/tcp6").read_text().splitlines()[1:]
        if Path("/proc/net/tcp6").exists()
        else []
    )
    return [
        row.split()[1]
        for row in rows
        if row.split()[3] == "0A" and int(row.split()[1].split(":")[1], 16) == port
    ]


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_dashboard_listens_on_localhost_only_by_default(tmp_path):
    port = free_port()
    env = {**os.environ, "FAKEUSERS_MODELS_DIR": str(tmp_path)}
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py"]
            + ["--server.headless", "true", "--server.port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    tmp_path / "server.log"
                ).read_text()
                time.sleep(0.25)
        assert listening_addresses(port) == {"127.0.0.1"}
        assert ipv6_listeners(port) == []
    finally:
        proc.terminate()
        proc.wait(timeout=20)
