"""``keys``: the API keys that let other systems call the REST API (:mod:`fakeusers.keys`)."""

from __future__ import annotations

import argparse

from fakeusers.cli.common import audit, open_database


def cmd_keys_add(args: argparse.Namespace) -> int:
    from fakeusers.keys import KeyStore

    key = KeyStore(open_database(args)).add(args.name, args.scope)
    audit(args, "key", detail=f"key {args.name!r} added, scope {args.scope}")
    print(f"Key {args.name!r} ({args.scope}) made. It is shown this once; only its hash is kept.")
    print("Callers send it as the header: Authorization: Bearer KEY")
    print(key)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from fakeusers.keys import KeyStore

    keys = KeyStore(open_database(args)).list()
    if not keys:
        print("No API keys: the API is open to whoever can reach it (127.0.0.1 by default).")
        return 0
    print(f"{'NAME':<24} {'SCOPE':<8} {'CREATED':<20} STATUS")
    for key in keys:
        status = "in use" if key.revoked_at is None else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
        print(f"{key.name:<24} {key.scope:<8} {key.created_at:%Y-%m-%d %H:%M:%S} {status}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from fakeusers.keys import KeyStore

    KeyStore(open_database(args)).revoke(args.name)
    audit(args, "key", detail=f"key {args.name!r} revoked")
    print(f"Key {args.name!r} revoked: the API refuses it from now on.")
    return 0


def _keys_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("keys", parents=[common], help="API keys: add, list, revoke")
    keys = p.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", required=True)
    q = keys.add_parser(
        "add",
        parents=[common],
        help="make a key; prints it once, alone on the last line",
        description="Scopes: predict (score, read models) < review (also verdicts) < admin "
        "(also train, replace, promote).",
    )
    q.add_argument("name", metavar="NAME", help="who or what uses it; the actor in the audit trail")
    q.add_argument("--scope", choices=["predict", "review", "admin"], required=True)
    q.set_defaults(func=cmd_keys_add)
    q = keys.add_parser(
        "list", parents=[common], help="every key, in use or revoked (never the key)"
    )
    q.set_defaults(func=cmd_keys_list)
    q = keys.add_parser("revoke", parents=[common], help="stop a key working, at once")
    q.add_argument("name", metavar="NAME")
    q.set_defaults(func=cmd_keys_revoke)
