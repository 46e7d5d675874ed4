"""The one atomic write: whole or nothing, the umask's mode, and no litter after a kill."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time

import pytest

from fakeusers.atomic import TEMP_SUFFIX, remove_stale_temps, write_atomic, write_bytes_atomic
from tests.support import ROOT


def test_the_file_gets_the_mode_a_plain_open_would_give(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "a.csv", b"x")
        os.umask(0o077)
        write_bytes_atomic(tmp_path / "b.csv", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.csv").stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_the_previous_file_and_no_temp(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("previous\n")

    def fail(f):
        f.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_atomic(out, fail)
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


KILLED = """
import os, sys, time
from fakeusers.atomic import write_atomic
def hang(f):
    f.write(b"half")
    f.flush()
    open(sys.argv[2], "w").close()
    time.sleep(60)
write_atomic(sys.argv[1], hang)
"""


def test_the_next_write_removes_the_temp_file_of_a_killed_one(tmp_path, monkeypatch):
    out, started = tmp_path / "out.csv", tmp_path / "started"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(out), str(started)], env=env)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    (temp,) = tmp_path.glob(f".out.csv.*{TEMP_SUFFIX}")
    monkeypatch.setattr("fakeusers.atomic._GRACE_SECONDS", 0.0)
    assert remove_stale_temps(tmp_path, "out.csv") == 0, "its writer is alive: keep it"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert temp.exists() and not out.exists()
    write_bytes_atomic(out, b"new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "started"]


def test_a_temp_file_that_is_only_a_moment_old_is_kept(tmp_path):
    young = tmp_path / f".out.csv.abc{TEMP_SUFFIX}"
    young.write_bytes(b"")
    fd = os.open(young, os.O_RDONLY)
    try:
        assert remove_stale_temps(tmp_path, "out.csv") == 0
    finally:
        os.close(fd)
    assert young.exists()
    os.utime(young, (time.time() - 60, time.time() - 60))
    assert remove_stale_temps(tmp_path, "out.csv") == 1


def test_only_temps_of_that_file_are_touched(tmp_path):
    other = tmp_path / f".other.csv.abc{TEMP_SUFFIX}"
    other.write_bytes(b"")
    os.utime(other, (0, 0))
    held = tmp_path / f".out.csv.held{TEMP_SUFFIX}"
    held.write_bytes(b"")
    os.utime(held, (0, 0))
    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        write_bytes_atomic(tmp_path / "out.csv", b"x")
    finally:
        os.close(fd)
    assert other.exists() and held.exists()
