"""The command line: ``python -m fakeusers COMMAND``: train, predict, evaluate, models, review,
demo-data, serve, docs.

One module per group of commands, each with its parsers: :mod:`.scoring`, :mod:`.models`,
:mod:`.review`, :mod:`.service`; :mod:`.common` what they share.

Errors print one line on stderr and exit with status 2; no traceback, and never a partial
output file (outputs are written to a temporary file, then renamed). Progress goes to stderr,
results to stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fakeusers.cli.common import EXIT_USAGE, Parser
from fakeusers.cli.keys import _keys_parser
from fakeusers.cli.models import _models_parser
from fakeusers.cli.review import _review_parser
from fakeusers.cli.scoring import _scoring_parsers, _train_parser
from fakeusers.cli.service import _other_parsers
from fakeusers.errors import FakeusersError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--models-dir",
        metavar="DIR",
        help="the model store (default: $FAKEUSERS_MODELS_DIR, else ./models)",
    )
    common.add_argument(
        "--db-url",
        metavar="URL",
        help="the review database of verdicts and the audit trail (default: "
        "$FAKEUSERS_DB_URL, else sqlite:///data/fakeusers.db)",
    )
    parser = Parser(
        prog="python -m fakeusers",
        description="Find the fake users in click logs and decide, in money, whom to block.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _train_parser(sub, common)
    _scoring_parsers(sub, common)
    _models_parser(sub, common)
    _review_parser(sub, common)
    _keys_parser(sub, common)
    _other_parsers(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except FakeusersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (| head): nothing more to say, and nothing to say it to.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(
            "error: not enough memory for this log; split it into smaller files.",
            file=sys.stderr,
        )
        return 1
