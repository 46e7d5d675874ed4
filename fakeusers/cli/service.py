"""``demo-data``, ``serve`` (the REST API) and ``docs`` (the documentation site)."""

from __future__ import annotations

import argparse
from pathlib import Path

from fakeusers.cli.common import (
    event_count,
    open_database,
    positive_int,
    progress,
)
from fakeusers.errors import FakeusersError


def cmd_demo_data(args: argparse.Namespace) -> int:
    from fakeusers.demo import write_demo_csv

    output = Path(args.output)
    if not output.name.lower().endswith((".csv", ".csv.gz")):
        raise FakeusersError(f"{output}: the output file must end in .csv or .csv.gz.")
    if not output.parent.exists():
        raise FakeusersError(f"Folder {output.parent} does not exist; create it or choose another.")
    if args.events >= 2_000_000:
        progress(f"Generating {args.events:,} events ...")
    write_demo_csv(output, n_events=args.events, seed=args.seed, timestamps=args.timestamps)
    print(f"Wrote {args.events:,} events to {output}.")
    return 0


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args: argparse.Namespace) -> int:
    from fakeusers.api import serve

    if args.host not in LOOPBACK and not args.no_auth:
        from fakeusers.keys import KeyStore

        if not KeyStore(open_database(args)).any_active():
            raise FakeusersError(
                f"Refusing to listen on {args.host} without API keys: anyone who reaches it "
                "could train, replace and promote models. Make a key first (python -m "
                "fakeusers keys add NAME --scope admin), or listen on 127.0.0.1; --no-auth "
                "starts it open anyway."
            )
    serve(
        host=args.host,
        port=args.port,
        models_dir=args.models_dir,
        db_url=args.db_url,
        open_anyway=args.no_auth,
        workers=args.workers,
    )
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from fakeusers.docsite import serve

    serve(port=args.port)
    return 0


def _other_parsers(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo-data", help="write a synthetic labelled log")
    p.add_argument("output", metavar="OUTPUT.csv", help="where to write it (.csv or .csv.gz)")
    p.add_argument(
        "--events",
        type=event_count,
        default=100_000,
        help="rows, 100 to 100,000,000 (default 100000)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--timestamps", action="store_true", help="add a Timestamp column")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("serve", parents=[common], help="run the REST API (FastAPI)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="worker processes for production (default 1); limits hold per worker",
    )
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="listen beyond this machine even while no API key exists (open until a key is made)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("docs", help="serve the documentation site on this machine")
    p.add_argument("--port", type=int, default=7000, help="port (default 7000)")
    p.set_defaults(func=cmd_docs)
