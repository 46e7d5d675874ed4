"""``models``: list the store, its versions, promote and roll back."""

from __future__ import annotations

import argparse

from fakeusers.cli.common import (
    audit,
    fmt,
    open_store,
)
from fakeusers.errors import FakeusersError


def _model_rows(cards: list[dict], first: str) -> None:
    print(f"{first:<30} {'CREATED':<20} {'TYPE':<9} {'USERS':>9} {'AUC':>7} {'AP':>7} {'BRIER':>7}")
    for card in cards:
        ref = f"{card['name']}@{card.get('version')}" + (" *" if card.get("default") else "")
        if "error" in card:
            print(f"{ref:<30} unusable: {card['error']}")
            continue
        cv = card.get("cv", {})
        users = card.get("training", {}).get("users", 0)
        print(
            f"{ref:<30} {card['created'][:19]:<20} {card['model_type']:<9} {users:>9,} "
            f"{fmt(cv.get('roc_auc')):>7} {fmt(cv.get('average_precision')):>7} "
            f"{fmt(cv.get('brier')):>7}"
        )


def cmd_models(args: argparse.Namespace) -> int:
    store = open_store(args)
    cards = store.list()
    if not cards:
        print(f"No models in {store.root}. Train one: python -m fakeusers train LOGS.csv")
        return 0
    _model_rows(cards, "MODEL (* default)")
    default = next((c for c in cards if c.get("default")), None)
    if default is None:
        try:
            name, version = store.default()
            print(f"Default: {name}@{version} (not the current version of '{name}').")
        except FakeusersError as exc:
            print(f"No default model: {exc}")
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    cards = open_store(args).versions(args.name)
    _model_rows(cards, "VERSION (* default)")
    current = next(c for c in cards if c["current"])
    print(f"'{args.name}' means {args.name}@{current['version']}.")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    card = open_store(args).promote(args.ref, by="python -m fakeusers models promote")
    print(f"{card['name']}@{card['version']} is now the default model.")
    audit(args, "promote", model=f"{card['name']}@{card['version']}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    card = open_store(args).rollback(args.ref)
    name, version = card["name"], card["version"]
    audit(args, "promote", model=f"{name}@{version}", detail=f"'{name}' rolled back")
    print(
        f"'{name}' now means {name}@{version}; later versions are kept. The default model is "
        f"unchanged (to use this one by default: python -m fakeusers models promote {name})."
    )
    return 0


def _models_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "models",
        parents=[common],
        help="list, promote and roll back models",
        description="Without a subcommand: one line per model, * marks the default.",
    )
    p.set_defaults(func=cmd_models)
    models = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    q = models.add_parser("list", parents=[common], help="one line per model (the default)")
    q.set_defaults(func=cmd_models)
    q = models.add_parser("versions", parents=[common], help="every version of one model")
    q.add_argument("name", metavar="NAME")
    q.set_defaults(func=cmd_versions)
    q = models.add_parser(
        "promote", parents=[common], help="make a model the default for predict and the API"
    )
    q.add_argument("ref", metavar="NAME[@VERSION]", help="NAME means its current version")
    q.set_defaults(func=cmd_promote)
    q = models.add_parser(
        "rollback", parents=[common], help="make NAME mean an earlier version again"
    )
    q.add_argument("ref", metavar="NAME@VERSION")
    q.set_defaults(func=cmd_rollback)
