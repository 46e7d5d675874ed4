"""Size limits as people write them: one parser for the reader's cap and the API's limit."""

from __future__ import annotations

import pytest

from fakeusers.errors import FakeusersError
from fakeusers.limits import format_size, limit_from_env, parse_size

ENV = "FAKEUSERS_TEST_LIMIT"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("104857600", 104_857_600),
        (104_857_600, 104_857_600),
        (" 4096 ", 4096),
        ("512B", 512),
        ("700MB", 700_000_000),
        ("700 mb", 700_000_000),
        ("4GB", 4_000_000_000),
        ("2 TB", 2_000_000_000_000),
        ("1KB", 1000),
        ("1 KiB", 1024),
        ("4GiB", 4 * 1024**3),
        ("1.5 GiB", 3 * 1024**3 // 2),
        ("1.5gib", 3 * 1024**3 // 2),
        ("0.5 MiB", 512 * 1024),
        (".5k", 512),
        ("512k", 512 * 1024),
        ("512K", 512 * 1024),
        ("100m", 100 * 1024**2),
        ("4G", 4 * 1024**3),
        ("1T", 1024**4),
        ("1.3 GiB", 1_395_864_371),  # rounded down to whole bytes
    ],
)
def test_sizes_in_bytes_and_units(text: str | int, size: int) -> None:
    assert parse_size(text) == size


def test_bare_letters_are_binary_and_b_suffixes_decimal() -> None:
    """As docker (--memory 512m) and du -h read them: K, M, G are 1024s; KB, MB, GB 1000s."""
    assert parse_size("1k") == parse_size("1KiB") == 1024
    assert parse_size("1m") == parse_size("1MiB") == 1024**2
    assert parse_size("1g") == parse_size("1GiB") == 1024**3
    assert parse_size("1kb") == 1000 and parse_size("1mb") == 1000**2


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0", "more than zero"),
        (0, "more than zero"),
        ("0MB", "more than zero"),
        ("-5", "more than zero"),
        (-5, "more than zero"),
        ("-2GB", "more than zero"),
        ("1.5", "whole"),
        ("1.5 B", "whole"),
        ("inf", "not a number"),
        ("-inf", "not a number"),
        ("nan", "not a number"),
        ("1e9", "not a number"),
        ("lots", "not a number"),
        ("", "not a number"),
        ("MB", "not a number"),
        ("700 MBs", "'MBs' is not a unit"),
        ("4 gigabytes", "'gigabytes' is not a unit"),
        ("1,000", "not a number"),
        (True, "neither text nor a whole number"),
        (1.5, "neither text nor a whole number"),
        (float("inf"), "neither text nor a whole number"),
    ],
)
def test_refusals_name_the_value_and_show_valid_sizes(text: object, why: str) -> None:
    with pytest.raises(FakeusersError) as err:
        parse_size(text)  # type: ignore[arg-type]
    message = str(err.value)
    assert message.startswith(f"{text!r} is not a size limit: ")
    assert why in message
    assert "such as 104857600, 700MB, 1.5 GiB or 512k" in message


def test_a_long_value_is_cut_in_the_message() -> None:
    with pytest.raises(FakeusersError) as err:
        parse_size("x" * 10_000)
    assert len(str(err.value)) < 400


@pytest.mark.parametrize("size", [1, 1000, 1024, 1536, 700_000_000, 4 * 1024**3, 10**12 + 1])
def test_format_size_reads_back_to_the_same_bytes(size: int) -> None:
    assert parse_size(format_size(size)) == size


def test_format_size_picks_the_largest_whole_unit() -> None:
    assert format_size(4 * 1024**3) == "4 GiB"
    assert format_size(700_000_000) == "700 MB"
    assert format_size(1024) == "1 KiB" and format_size(1000) == "1 KB"
    assert format_size(1536) == "1536 B"


def test_limit_from_env_reads_units(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "700MB")
    assert limit_from_env(ENV, 1024) == 700_000_000
    monkeypatch.setenv(ENV, "104857600")
    assert limit_from_env(ENV, 1024) == 104_857_600


@pytest.mark.parametrize("value", [None, "", "   "])
def test_limit_from_env_falls_back_to_the_default(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, value)
    assert limit_from_env(ENV, 4 * 1024**3) == 4 * 1024**3


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5", "700 MBs", "inf"])
def test_limit_from_env_names_the_variable_its_value_and_a_fix(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, value)
    with pytest.raises(FakeusersError) as err:
        limit_from_env(ENV, 100 * 1024**2)
    message = str(err.value)
    assert message.startswith(f"{ENV}: '{value}' is not a size limit: ")
    assert "such as 104857600, 700MB" in message  # what to write instead
    assert message.endswith("Or unset it for the default, 100 MiB.")


def test_the_reader_cap_takes_units(monkeypatch: pytest.MonkeyPatch) -> None:
    """FAKEUSERS_MAX_LOG_BYTES goes through the same parser."""
    from fakeusers.reading import MAX_LOG_BYTES_ENV, read_logs

    header = b"UserId,Event,Category\n"
    data = header + b"u1,click_ad,Motor\n" * 100  # 1,822 bytes
    monkeypatch.setenv(MAX_LOG_BYTES_ENV, "1 KiB")
    with pytest.raises(FakeusersError, match=r"^big\.csv is larger than the 1,024 bytes"):
        read_logs(("big.csv", data))
    monkeypatch.setenv(MAX_LOG_BYTES_ENV, "2k")
    assert read_logs(("big.csv", data)).report.rows == 100
