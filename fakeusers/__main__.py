"""The command line: ``python -m fakeusers train|predict|evaluate|models|demo-data``.

Errors print one line on stderr and exit with status 2; no traceback, and never a partial
output file (outputs are written to a temporary file, then renamed). Progress goes to stderr,
results to stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from fakeusers.errors import FakeusersError

__all__ = ["main"]

EXIT_USAGE = 2


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _store(args: argparse.Namespace):
    from fakeusers.store import ModelStore

    return ModelStore(args.models_dir)


def _progress_if_large(paths: Sequence[str], message: str) -> None:
    """Say what is happening when the inputs are big enough to take a few seconds."""
    size = sum(Path(p).stat().st_size for p in paths if Path(p).is_file())
    if size > 50_000_000:
        _progress(message)


def _split_output(paths: Sequence[str]) -> tuple[list[str], Path]:
    if len(paths) < 2:
        raise FakeusersError(
            "predict needs one or more input logs and then the output file: "
            "python -m fakeusers predict IN.csv OUT.csv"
        )
    inputs, output = list(paths[:-1]), Path(paths[-1])
    if not output.name.lower().endswith(".csv"):
        raise FakeusersError(
            f"The last argument, {output}, is the output file and must end in .csv "
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


def _database(args: argparse.Namespace):
    from fakeusers.database import Database

    return Database(getattr(args, "db_url", None))


def _audit(args: argparse.Namespace, action: str, **fields) -> None:
    """Record an action in the audit trail as the login user (unverified); a database that
    is unavailable is a warning, not a failure of the action already done."""
    import getpass

    from fakeusers.audit import Actor, AuditTrail
    from fakeusers.errors import DatabaseUnavailableError

    try:
        AuditTrail(_database(args)).record(action, Actor.named(getpass.getuser()), **fields)
    except DatabaseUnavailableError as exc:
        _progress(f"warning: not recorded in the audit trail: {exc}")


def _rule(args: argparse.Namespace):
    from fakeusers.scoring import Rule

    return Rule.of(args.cost_fp, args.cost_fn, args.top_k, args.threshold)


def _expected_cost(decision) -> str:
    """``expected cost 106.18 (90% between 88.0 and 125.4)``."""
    low, high = decision.expected_cost_interval
    return f"expected cost {decision.expected_cost:,.2f} (90% between {low:,.1f} and {high:,.1f})"


def _score(args: argparse.Namespace, inputs: Sequence[str], rule):
    """Read, load and score through the one scoring path; say what the reader must know."""
    from fakeusers.scoring import score_sources

    store = _store(args)
    if args.model is None:
        name, version = store.default()
        _progress(
            f"Using model '{name}@{version}', the default in {store.root} (choose one with "
            "--model NAME[@VERSION])."
        )
    _progress_if_large(inputs, f"Reading {', '.join(inputs)} ...")
    verdicts = {}
    if rule is not None and not args.no_verdicts:
        from fakeusers.verdicts import held_verdicts

        verdicts, problem = held_verdicts(_database(args))
        if problem:
            _progress(f"warning: {problem}")
    scored = score_sources(
        inputs,
        store=store,
        model=args.model,
        rule=rule,
        verdicts=verdicts,
        overlaps=args.overlaps,
    )
    for warning in scored.log.report.warnings:
        _progress(f"Warning: {warning}")
    for note in scored.notes():
        _progress(f"Note: {note}")
    warning = scored.applicability.warning()
    if warning is not None:
        _progress(f"warning: {warning}")
    return scored


def _default_line(card: dict) -> str:
    ref = f"{card['name']}@{card['version']}"
    if card.get("default"):
        return f"It is the default model ({ref})."
    return (
        f"The default model is unchanged; to make this one the default: "
        f"python -m fakeusers models promote {ref}"
    )


def cmd_train(args: argparse.Namespace) -> int:
    from fakeusers.training import train_and_save

    store = _store(args)
    verdicts = current = None
    if args.with_verdicts:
        from fakeusers.verdicts import VerdictStore

        verdicts = VerdictStore(_database(args)).kinds()
        _progress(f"{len(verdicts):,} verdicts in the review database.")
        if args.replace and args.name and store.exists(args.name):
            current = store.load(args.name)
    _progress(f"Reading {', '.join(args.logs)} ...")
    card, log = train_and_save(
        args.logs,
        store=store,
        name=args.name,
        model_type=args.model,
        seed=args.seed,
        use_timestamps=not args.ignore_timestamps,
        replace=args.replace,
        progress=_progress,
        verdicts=verdicts,
        overlaps=args.overlaps,
    )
    ref = f"{card['name']}@{card['version']}"
    with_what = " with analysts' verdicts" if verdicts is not None else ""
    _audit(args, "train", model=ref, count=card["cv"]["users"], detail=f"trained{with_what}")
    cv = card["cv"]
    print(
        f"Model '{card['name']}' version {card['version']} ({args.model}) saved in "
        f"{store.root / card['name']}. {_default_line(card)}"
    )
    print(
        f"Cross-validated over {cv['users']:,} users ({cv['fake_users']:,} fake), 5 folds by user:"
    )
    print(f"  ROC AUC            {cv['roc_auc']:.4f}")
    print(f"  average precision  {cv['average_precision']:.4f}")
    print(f"  Brier score        {cv['brier']:.4f}")
    print(f"  log loss           {cv['log_loss']:.4f}")
    print("  reliability (predicted -> observed fake rate, users):")
    for row in cv["reliability"]:
        if row["users"]:
            print(
                f"    {row['bin_low']:.1f}-{row['bin_high']:.1f}: "
                f"{row['mean_predicted']:.3f} -> {row['observed_fake_rate']:.3f} "
                f"({row['users']:,})"
            )
    if current is not None:
        _compare(store, current, ref, log, verdicts)
    return 0


def _compare(store, current, ref: str, log, verdicts) -> None:
    """The version just trained against the one it replaces, on the same users and labels."""
    from fakeusers.training import compare_with_current, verdict_training_log

    taught, _ = verdict_training_log(log, verdicts)
    both = compare_with_current(log, taught, current.model, store.load(ref).model)
    print(
        f"Against {current.ref} on the same {taught.n_users:,} users and verdict-corrected "
        "labels (out-of-fold or unseen for both):"
    )
    for key, label in (
        ("roc_auc", "ROC AUC"),
        ("average_precision", "average precision"),
        ("brier", "Brier score"),
        ("log_loss", "log loss"),
    ):
        print(f"  {label:<18} {_fmt(both['current'][key])} -> {_fmt(both['new'][key])}")
    print(f"To use it by default: python -m fakeusers models promote {ref}")


def cmd_predict(args: argparse.Namespace) -> int:
    rule = _rule(args)
    inputs, output = _split_output(args.paths)
    scored = _score(args, inputs, rule)
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from fakeusers.atomic import write_atomic

    columns = {"UserId": scored.user_ids.astype(str), "is_fake_probability": scored.p}
    summary = f"Scored {scored.n_users:,} users with model '{scored.model_ref}'"
    if scored.decision is not None:
        columns["flagged"] = scored.decision.flagged.astype(np.int8)
        columns["why"] = scored.why.astype(str)
        summary += f"; flagged {scored.decision.n_flagged:,} by {rule.describe()}"
        if scored.verdicts is not None:
            held = scored.verdicts
            summary += (
                f" and analysts' verdicts ({int((held == 1).sum()):,} confirmed fake, "
                f"{int((held == 0).sum()):,} cleared)"
            )
        if rule.has_costs:
            summary += f", {_expected_cost(scored.decision)}"
    if args.reasons:
        from fakeusers.export import REASON_COLUMNS

        reasons = scored.reasons(np.arange(scored.n_users))
        for r, name in enumerate(REASON_COLUMNS):
            columns[name] = [rs[r].text if r < len(rs) else "" for rs in reasons]
    table = pa.table(columns)
    # IDs stay exactly as read (no spreadsheet neutralisation: this file is for machines);
    # quote them only when a delimiter, quote or line break in an ID requires it. Reasons
    # never start with a formula character (fakeusers.reasons.value_words) but hold commas.
    needs_quotes = (
        args.reasons or pc.any(pc.match_substring_regex(table["UserId"], '[,"\r\n]')).as_py()
    )
    options = pacsv.WriteOptions(
        include_header=False, quoting_style="needed" if needs_quotes else "none"
    )

    def write(fh) -> None:
        fh.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, fh, write_options=options)

    write_atomic(output, write)
    print(f"{summary}. Wrote {output}.")
    if scored.decision is not None:
        _audit(
            args,
            "download",
            model=scored.model_ref,
            cost_fp=rule.cost_fp,
            cost_fn=rule.cost_fn,
            threshold=scored.decision.threshold,
            count=scored.decision.n_flagged,
            sha256=_sha256(output),
            detail=f"predict wrote {output.name}: {rule.describe()}",
        )
    return 0


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cmd_evaluate(args: argparse.Namespace) -> int:
    rule = _rule(args)
    scored = _score(args, args.logs, rule)
    scored.log.require_labels()
    m = scored.metrics
    kind = "out-of-fold" if scored.out_of_fold else "on this log"
    print(f"Model '{scored.model_ref}' on {m['users']:,} users ({m['fake_users']:,} fake), {kind}:")
    for key, label in (
        ("roc_auc", "ROC AUC"),
        ("average_precision", "average precision"),
        ("brier", "Brier score"),
        ("log_loss", "log loss"),
    ):
        value = m[key]
        print(f"  {label:<18} {'n/a' if value is None else f'{value:.4f}'}")
    d = scored.decision
    if d is not None:
        o = d.outcome
        print(
            f"Decision ({rule.describe()}): {d.n_flagged:,} users flagged ({d.share_flagged:.1%})."
        )
        print(f"  confusion: TP {o.tp:,}  FP {o.fp:,}  FN {o.fn:,}  TN {o.tn:,}")
        print(f"  precision {o.precision:.4f}  recall {o.recall:.4f}")
        if rule.has_costs:
            print(f"  {_expected_cost(d)}  realised cost {o.realised_cost:,.2f}")
    return 0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


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
            f"{_fmt(cv.get('roc_auc')):>7} {_fmt(cv.get('average_precision')):>7} "
            f"{_fmt(cv.get('brier')):>7}"
        )


def cmd_models(args: argparse.Namespace) -> int:
    store = _store(args)
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
    cards = _store(args).versions(args.name)
    _model_rows(cards, "VERSION (* default)")
    current = next(c for c in cards if c["current"])
    print(f"'{args.name}' means {args.name}@{current['version']}.")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    card = _store(args).promote(args.ref, by="python -m fakeusers models promote")
    print(f"{card['name']}@{card['version']} is now the default model.")
    _audit(args, "promote", model=f"{card['name']}@{card['version']}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    card = _store(args).rollback(args.ref)
    name, version = card["name"], card["version"]
    _audit(args, "promote", model=f"{name}@{version}", detail=f"'{name}' rolled back")
    print(
        f"'{name}' now means {name}@{version}; later versions are kept. The default model is "
        f"unchanged (to use this one by default: python -m fakeusers models promote {name})."
    )
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from fakeusers.demo import write_demo_csv

    output = Path(args.output)
    if not output.name.lower().endswith((".csv", ".csv.gz")):
        raise FakeusersError(f"{output}: the output file must end in .csv or .csv.gz.")
    if not output.parent.exists():
        raise FakeusersError(f"Folder {output.parent} does not exist; create it or choose another.")
    if args.events >= 2_000_000:
        _progress(f"Generating {args.events:,} events ...")
    write_demo_csv(output, n_events=args.events, seed=args.seed, timestamps=args.timestamps)
    print(f"Wrote {args.events:,} events to {output}.")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from fakeusers.api import serve

    serve(host=args.host, port=args.port, models_dir=args.models_dir)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from fakeusers.docsite import serve

    serve(port=args.port)
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


def _event_count(text: str) -> int:
    value = _positive_int(text)
    if not 100 <= value <= 100_000_000:
        raise argparse.ArgumentTypeError(f"{value:,} is out of range; give 100 to 100,000,000")
    return value


def _cost(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text} is not a cost; give 0 or a positive amount")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a probability; give 0 to 1, e.g. 0.25")
    return value


def _overlaps_option(p: argparse.ArgumentParser) -> None:
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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error:`` line with where to find help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see: {self.prog} --help)\n")


def _train_parser(sub, common: argparse.ArgumentParser) -> None:
    from fakeusers import DEFAULT_MODEL, MODEL_TYPES

    p = sub.add_parser("train", parents=[common], help="train a model on labelled logs")
    p.add_argument("logs", nargs="+", metavar="LOGS", help="labelled log CSVs (with Fake)")
    p.add_argument("--name", help="model name (default: TYPE-DATE-TIME)")
    p.add_argument(
        "--replace",
        action="store_true",
        help="save as the next version of a model that has this name (earlier ones are kept)",
    )
    p.add_argument(
        "--model",
        choices=MODEL_TYPES,
        default=DEFAULT_MODEL,
        help=f"model type (default: {DEFAULT_MODEL})",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed for folds and boosting")
    p.add_argument(
        "--ignore-timestamps",
        action="store_true",
        help="do not use Timestamp features, so the model can score logs without timestamps",
    )
    p.add_argument(
        "--with-verdicts",
        action="store_true",
        help="labels overridden by analysts' verdicts (review database), and extended to "
        "unlabelled users who have one",
    )
    _overlaps_option(p)
    p.set_defaults(func=cmd_train)


def _decision_options(p: argparse.ArgumentParser) -> None:
    """The model, the rule and the overlaps choice, the same for predict and evaluate."""
    _overlaps_option(p)
    p.add_argument(
        "--model",
        metavar="NAME[@VERSION]",
        help="the model (default: the promoted one; see: models)",
    )
    p.add_argument(
        "--cost-fp",
        type=_cost,
        metavar="M",
        help="cost of blocking a real user; give it with --cost-fn: flags p >= M/(M+F)",
    )
    p.add_argument(
        "--cost-fn", type=_cost, metavar="F", help="cost of missing a fake user (with --cost-fp)"
    )
    p.add_argument(
        "--top-k",
        type=_positive_int,
        metavar="K",
        help="flag the K riskiest users (review capacity); costs, if given, price it",
    )
    p.add_argument(
        "--threshold",
        type=_probability,
        metavar="T",
        help="flag p >= T, a threshold typed directly (not with --top-k); costs, if given, "
        "price it",
    )
    p.add_argument(
        "--no-verdicts",
        action="store_true",
        help="ignore analysts' verdicts (by default, with a rule, confirmed fakes are always "
        "flagged and cleared users never)",
    )


def _scoring_parsers(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "predict",
        parents=[common],
        help="score logs: writes UserId,is_fake_probability[,flagged,why][,reason_1..3]",
        usage="python -m fakeusers predict LOGS... OUTPUT.csv [options]",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="FILE",
        help="one or more input logs (.csv, .csv.gz), then the output file (.csv)",
    )
    _decision_options(p)
    p.add_argument(
        "--reasons",
        action="store_true",
        help="add reason_1..reason_3: why each user scores as they do, in words "
        "(the features that push them towards fake, against the model's real training users)",
    )
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", parents=[common], help="metrics of a model on labelled logs")
    p.add_argument("logs", nargs="+", metavar="LOGS", help="labelled logs (with a Fake column)")
    _decision_options(p)
    p.set_defaults(func=cmd_evaluate)


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


def _csv_output(path: str) -> Path:
    output = Path(path)
    if not output.name.lower().endswith(".csv"):
        raise FakeusersError(f"{output} must end in .csv.")
    if not output.parent.exists():
        raise FakeusersError(f"Folder {output.parent} does not exist; create it or choose another.")
    return output


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
    db = _database(args)
    n = VerdictStore(db).record(entries, analyst, source="import", detail=f"from {path.name}")
    fake = sum(e.verdict == "fake" for e in entries)
    print(
        f"Imported {n:,} verdicts ({fake:,} fake, {n - fake:,} real) from {path} into "
        f"{db.shown} as {analyst.name} (unverified)."
    )
    return 0


def cmd_review_export(args: argparse.Namespace) -> int:
    from fakeusers.atomic import write_atomic
    from fakeusers.verdicts import VerdictStore

    output = _csv_output(args.output)
    store = VerdictStore(_database(args))
    data = store.to_csv(for_spreadsheets=False)
    write_atomic(output, lambda fh: fh.write(data))
    rows = data.count(b"\n") - 1
    print(f"Wrote {rows:,} verdicts to {output}.")
    return 0


def cmd_review_log(args: argparse.Namespace) -> int:
    from fakeusers.atomic import write_atomic
    from fakeusers.audit import AuditTrail

    output = _csv_output(args.output)
    data = AuditTrail(_database(args)).to_csv(action=args.action, actor=args.actor)
    write_atomic(output, lambda fh: fh.write(data))
    rows = data.count(b"\n") - 1
    print(f"Wrote {rows:,} audit entries to {output}.")
    return 0


def _other_parsers(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo-data", help="write a synthetic labelled log")
    p.add_argument("output", metavar="OUTPUT.csv", help="where to write it (.csv or .csv.gz)")
    p.add_argument(
        "--events",
        type=_event_count,
        default=100_000,
        help="rows, 100 to 100,000,000 (default 100000)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--timestamps", action="store_true", help="add a Timestamp column")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("serve", parents=[common], help="run the REST API (FastAPI)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("docs", help="serve the documentation site on this machine")
    p.add_argument("--port", type=int, default=7000, help="port (default 7000)")
    p.set_defaults(func=cmd_docs)


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
    parser = _Parser(
        prog="python -m fakeusers",
        description="Find the fake users in click logs and decide, in money, whom to block.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _train_parser(sub, common)
    _scoring_parsers(sub, common)
    _models_parser(sub, common)
    _review_parser(sub, common)
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


if __name__ == "__main__":
    sys.exit(main())
