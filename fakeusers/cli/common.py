"""What every command shares: progress and error output, the store and the review database,
the audit trail, and argument types that refuse bad values in one line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from fakeusers.errors import FakeusersError

__all__ = [
    "EXIT_USAGE",
    "Parser",
    "audit",
    "cost",
    "csv_output",
    "default_line",
    "event_count",
    "expected_cost_words",
    "fmt",
    "open_database",
    "open_store",
    "overlaps_option",
    "positive_int",
    "probability",
    "progress",
    "progress_if_large",
    "rule_from",
    "sha256_of",
    "split_output",
    "stages",
]

EXIT_USAGE = 2


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Stages:
    """Draws ``progress(stage, done, eta_seconds)`` on stderr (see :func:`stages`)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar = stream.isatty()
        self.stage: str | None = None

    def __call__(self, stage: str, done: float, eta_seconds: float | None) -> None:
        from fakeusers.progress import eta_words

        left = eta_words(eta_seconds) if done < 1.0 else ""
        if not self.bar:
            print(f"[{done:4.0%}] {stage}" + (f" ({left})" if left else ""), file=self.stream)
            self.stream.flush()
            return
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns or 80
        except (OSError, ValueError):
            width = 80
        filled = round(done * _BAR)
        line = f"{'█' * filled}{'░' * (_BAR - filled)} {done:4.0%} {left:<18} {stage}"
        # A new stage keeps the last one's line; the same stage redraws its line in place.
        start = "\n" if self.stage is not None and stage != self.stage else "\r"
        self.stream.write(start + line[: width - 1].ljust(width - 1))
        if done >= 1.0:
            self.stream.write("\n")
        self.stream.flush()
        self.stage = None if done >= 1.0 else stage


_BAR = 24


def stages(stream: TextIO | None = None) -> Callable[[str, float, float | None], None]:
    """A progress callback for long work (:mod:`fakeusers.progress`) that writes on stderr.

    On a terminal, a bar redrawn in place with the share done, the time left and the stage;
    each new stage starts a new line, so what was read stays on screen. Elsewhere (a log
    file, a pipe, a test) one plain line per report: ``[ 45%] Cross-validating ... (about 40
    s left)``.
    """
    return _Stages(sys.stderr if stream is None else stream)


def open_store(args: argparse.Namespace):
    from fakeusers.store import ModelStore

    return ModelStore(args.models_dir)


def progress_if_large(paths: Sequence[str], message: str) -> None:
    """Say what is happening when the inputs are big enough to take a few seconds."""
    size = sum(Path(p).stat().st_size for p in paths if Path(p).is_file())
    if size > 50_000_000:
        progress(message)


def split_output(paths: Sequence[str], *, parquet: bool = False) -> tuple[list[str], Path]:
    """The input logs and the output file; with ``parquet``, the output may also be a
    ``.parquet`` folder, a URL (the Spark engine writes it) unless it is a local path."""
    if len(paths) < 2:
        raise FakeusersError(
            "predict needs one or more input logs and then the output file: "
            "python -m fakeusers predict IN.csv OUT.csv"
        )
    inputs, output = list(paths[:-1]), Path(paths[-1])
    name = output.name.lower()
    if parquet and name.endswith(".parquet"):
        if "://" in paths[-1]:
            return inputs, output
    elif not name.endswith(".csv"):
        also = " or .parquet (a folder)" if parquet else ""
        if name.endswith(".parquet") and not parquet:
            also = " (a .parquet folder is written with --engine spark)"
        raise FakeusersError(
            f"The last argument, {output}, is the output file and must end in .csv{also} "
            "(python -m fakeusers predict IN.csv OUT.csv)."
        )
    for i in inputs:
        if Path(i).resolve() == output.resolve():
            raise FakeusersError(
                f"{output} is both an input and the output; choose another output file."
            )
    if not output.parent.exists():
        raise FakeusersError(f"Folder {output.parent} does not exist; create it or choose another.")
    return inputs, output


def open_database(args: argparse.Namespace):
    from fakeusers.database import Database

    return Database(getattr(args, "db_url", None))


def audit(args: argparse.Namespace, action: str, **fields) -> None:
    """Record an action in the audit trail as the login user (unverified); a database that
    is unavailable is a warning, not a failure of the action already done."""
    import getpass

    from fakeusers.audit import Actor, AuditTrail
    from fakeusers.errors import DatabaseUnavailableError

    try:
        AuditTrail(open_database(args)).record(action, Actor.named(getpass.getuser()), **fields)
    except DatabaseUnavailableError as exc:
        progress(f"warning: not recorded in the audit trail: {exc}")


def rule_from(args: argparse.Namespace):
    from fakeusers.scoring import Rule

    return Rule.of(args.cost_fp, args.cost_fn, args.top_k, args.threshold)


def expected_cost_words(decision) -> str:
    """``expected cost 106.18 (90% between 88.0 and 125.4)``."""
    low, high = decision.expected_cost_interval
    return f"expected cost {decision.expected_cost:,.2f} (90% between {low:,.1f} and {high:,.1f})"


def default_line(card: dict) -> str:
    ref = f"{card['name']}@{card['version']}"
    if card.get("default"):
        return f"It is the default model ({ref})."
    return (
        f"The default model is unchanged; to make this one the default: "
        f"python -m fakeusers models promote {ref}"
    )


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def sha256_of(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def csv_output(path: str) -> Path:
    output = Path(path)
    if not output.name.lower().endswith(".csv"):
        raise FakeusersError(f"{output} must end in .csv.")
    if not output.parent.exists():
        raise FakeusersError(f"Folder {output.parent} does not exist; create it or choose another.")
    return output


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


def event_count(text: str) -> int:
    value = positive_int(text)
    if not 100 <= value <= 100_000_000:
        raise argparse.ArgumentTypeError(f"{value:,} is out of range; give 100 to 100,000,000")
    return value


def cost(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text} is not a cost; give 0 or a positive amount")
    return value


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a probability; give 0 to 1, e.g. 0.25")
    return value


def overlaps_option(p: argparse.ArgumentParser) -> None:
    """What to do with a user repeated whole in two of the logs, for every command that reads
    several."""
    from fakeusers import OVERLAPS

    p.add_argument(
        "--overlaps",
        choices=OVERLAPS,
        default="keep_one",
        help="a user with the same events in two of the logs (overlapping exports): keep one "
        "copy (keep_one, the default) or both, counting the events twice (keep_all)",
    )


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error:`` line with where to find help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see: {self.prog} --help)\n")
