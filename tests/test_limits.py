"""The reader's size cap: a log file may hold at most ``FAKEUSERS_MAX_LOG_BYTES`` bytes.

A gzip bomb (a small ``.csv.gz`` that expands to gigabytes) must be refused without being
expanded, and a plain file over the cap must be refused before it is read, with a message
that names the file, the cap and what to do.
"""

from __future__ import annotations

import gzip
import os
import pathlib
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import pytest

from fakeusers.errors import FakeusersError
from fakeusers.reading import DEFAULT_MAX_LOG_BYTES, MAX_LOG_BYTES_ENV, read_logs

ROOT = Path(__file__).resolve().parents[1]
CAP = 1 << 20  # 1 MB
BOMB_BYTES = 64 << 20  # what the bomb expands to
HEADER = b"UserId,Event,Category,Fake\n"
ROWS = b"u1,click_ad,Motor,1\nu2,send_sms,Jobs,0\n"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A valid gzip file of about 64 KB holding a 64 MB log: a header, then zeros."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    parts = [packer.compress(HEADER)]
    parts += [packer.compress(chunk) for _ in range(BOMB_BYTES // len(chunk))]
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.fixture
def cap(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv(MAX_LOG_BYTES_ENV, str(CAP))
    return CAP


def peak_bytes(call) -> int:
    """The most memory Python objects held during ``call()`` (zlib output included)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_gzip_bomb_is_refused_without_being_expanded(bomb: bytes, cap: int) -> None:
    assert len(bomb) < 100_000 and len(gzip.decompress(bomb)) > 60 * cap
    # The measurement sees zlib's output: expanding the bomb in full peaks at its size.
    assert peak_bytes(lambda: zlib.decompress(bomb, wbits=31)) > BOMB_BYTES

    def refuse() -> None:
        with pytest.raises(FakeusersError) as err:
            read_logs(("clicks.csv.gz", bomb))
        assert str(err.value) == (
            "clicks.csv.gz decompresses to more than the 1,048,576 bytes (1 MB) one log file "
            "may hold. Split the log into smaller files and read them together, or raise "
            "FAKEUSERS_MAX_LOG_BYTES where fakeusers runs."
        )

    # The reader stopped inflating at the cap: a few MB, not 64.
    assert peak_bytes(refuse) < 4 * cap


def test_gzip_bomb_from_a_path_is_refused_too(bomb: bytes, cap: int, tmp_path: Path) -> None:
    path = tmp_path / "clicks.csv.gz"
    path.write_bytes(bomb)
    with pytest.raises(FakeusersError, match=r"^clicks\.csv\.gz decompresses to more than"):
        read_logs(path)


def test_members_of_a_gzip_file_count_together(cap: int) -> None:
    """Concatenated members (``cat a.gz b.gz``) are read as one file, under one cap."""
    half = HEADER + b"u1,click_ad,Motor,1\n" * (cap // 2 // 20)
    assert len(half) < cap < 2 * len(half)
    with pytest.raises(FakeusersError, match="decompresses to more than"):
        read_logs(("two.csv.gz", gzip.compress(half) + gzip.compress(half)))


def test_files_under_the_cap_read_as_before(cap: int) -> None:
    """Several members, zero padding between them, as gzip itself accepts."""
    plain = read_logs(("a.csv", HEADER + ROWS + ROWS))
    packed = gzip.compress(HEADER + ROWS) + b"\x00" * 8 + gzip.compress(ROWS)
    log = read_logs(("a.csv.gz", packed))
    assert log.fingerprint() == plain.fingerprint()
    assert log.report.rows == 4


@pytest.mark.parametrize(
    "packed",
    [
        gzip.compress(HEADER + ROWS)[:-4],  # cut off in the trailer
        gzip.compress(HEADER + ROWS)[:20],  # cut off in the data
        gzip.compress(HEADER + ROWS) + b"not gzip",  # garbage after the member
    ],
    ids=["no trailer", "cut", "trailing garbage"],
)
def test_damaged_gzip_is_still_refused_as_damaged(packed: bytes) -> None:
    with pytest.raises(FakeusersError) as err:
        read_logs(("a.csv.gz", packed))
    assert str(err.value) == (
        "a.csv.gz is a damaged gzip file. Compress it again or upload the plain CSV."
    )


def test_plain_bytes_over_the_cap_are_refused(cap: int) -> None:
    data = HEADER + ROWS * (cap // len(ROWS) + 1)
    with pytest.raises(FakeusersError) as err:
        read_logs(("big.csv", data))
    assert str(err.value).startswith(
        "big.csv is larger than the 1,048,576 bytes (1 MB) one log file may hold. Split the log"
    )
    assert MAX_LOG_BYTES_ENV in str(err.value)
    read_logs(("small.csv", data[: cap - 100].rsplit(b"\n", 1)[0] + b"\n"))


def test_a_file_over_the_default_cap_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sparse file one byte over 4 GiB: refused from its size, no byte of it read."""
    monkeypatch.delenv(MAX_LOG_BYTES_ENV, raising=False)
    path = tmp_path / "huge.csv"
    with open(path, "wb") as fh:
        fh.write(HEADER)
        fh.truncate(DEFAULT_MAX_LOG_BYTES + 1)

    def no_reading(self) -> bytes:
        raise AssertionError(f"{self} was read")

    monkeypatch.setattr(pathlib.Path, "read_bytes", no_reading)
    with pytest.raises(FakeusersError) as err:
        read_logs(path)
    assert str(err.value).startswith(
        "huge.csv is larger than the 4,294,967,296 bytes (4,096 MB) one log file may hold."
    )


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5"])
def test_a_bad_cap_setting_is_named(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_LOG_BYTES_ENV, value)
    with pytest.raises(FakeusersError) as err:
        read_logs(("a.csv", HEADER + ROWS))
    message = str(err.value)
    assert message.startswith("FAKEUSERS_MAX_LOG_BYTES: ") and "is not a size limit" in message
    assert "700MB" in message and message.endswith("Or unset it for the default, 4 GiB.")


def test_command_line_refuses_the_bomb_in_one_line(bomb: bytes, tmp_path: Path) -> None:
    path = tmp_path / "clicks.csv.gz"
    path.write_bytes(bomb)
    env = {**os.environ, "PYTHONPATH": str(ROOT), MAX_LOG_BYTES_ENV: str(CAP)}
    result = subprocess.run(
        [sys.executable, "-m", "fakeusers", "train", str(path), "--name", "bomb"]
        + ["--models-dir", str(tmp_path / "models")],
        capture_output=True,
        encoding="utf-8",
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    *progress, error = result.stderr.splitlines()  # "Reading ...", then the one error line
    assert error.startswith("error: clicks.csv.gz decompresses to more than the 1,048,576 bytes")
    assert "Traceback" not in result.stderr and not any("error" in line for line in progress)
    assert not (tmp_path / "models").exists()
