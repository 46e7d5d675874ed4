"""``review``: import and export analysts' verdicts, and the audit trail."""

from __future__ import annotations

import argparse
from pathlib import Path

from fakeusers.cli.common import (
    csv_output,
    open_database,
)
from fakeusers.errors import FakeusersError


def _review_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "review", parents=[common], help="import and export verdicts; the audit trail"
    )
    review = p.add_subparsers(dest="review_command", metavar="SUBCOMMAND", required=True)
    q = review.add_parser(
        "import",
        parents=[common],
        help="record verdicts from UserId,verdict[,note] (fake|real), all or none",
    )
    q.add_argument("file", metavar="VERDICTS.csv")
    q.add_argument(
        "--analyst", help="who decided (default: your login name), recorded as unverified"
    )
    q.add_argument(
        "--as",
        dest="as_verdict",
        choices=["fake", "real"],
        help="a block list (fake) or an allow list (real): one verdict for every listed user",
    )
    q.set_defaults(func=cmd_review_import)
    q = review.add_parser(
        "export", parents=[common], help="the verdict that holds per user, as CSV"
    )
    q.add_argument("output", metavar="OUT.csv")
    q.set_defaults(func=cmd_review_export)
    q = review.add_parser("log", parents=[common], help="the audit trail, newest first, as CSV")
    q.add_argument("output", metavar="OUT.csv")
    q.add_argument("--action", help="only this action (verdict, revert, import, download, ...)")
    q.add_argument("--actor", help="only what this analyst or key did")
    q.set_defaults(func=cmd_review_log)


def cmd_review_import(args: argparse.Namespace) -> int:
    import getpass

    from fakeusers.audit import Actor
    from fakeusers.verdicts import VerdictStore, parse_verdicts

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FakeusersError(f"Cannot read {path}: {exc.strerror}.") from None
    entries = parse_verdicts(data, path.name, verdict=args.as_verdict)
    analyst = Actor.named(args.analyst or getpass.getuser())
    db = open_database(args)
    n = VerdictStore(db).record(entries, analyst, source="import", detail=f"from {path.name}")
    fake = sum(e.verdict == "fake" for e in entries)
    print(
        f"Imported {n:,} verdict{'s' if n != 1 else ''} ({fake:,} fake, {n - fake:,} real) "
        f"from {path} into "
        f"{db.shown} as {analyst.name} (unverified)."
    )
    return 0


def cmd_review_export(args: argparse.Namespace) -> int:
    from fakeusers.atomic import write_atomic
    from fakeusers.verdicts import VerdictStore

    output = csv_output(args.output)
    store = VerdictStore(open_database(args))
    data = store.to_csv(for_spreadsheets=False)
    write_atomic(output, lambda fh: fh.write(data))
    rows = data.count(b"\n") - 1
    print(f"Wrote {rows:,} verdicts to {output}.")
    return 0


def cmd_review_log(args: argparse.Namespace) -> int:
    from fakeusers.atomic import write_atomic
    from fakeusers.audit import AuditTrail

    output = csv_output(args.output)
    data = AuditTrail(open_database(args)).to_csv(action=args.action, actor=args.actor)
    write_atomic(output, lambda fh: fh.write(data))
    rows = data.count(b"\n") - 1
    print(f"Wrote {rows:,} audit entries to {output}.")
    return 0
