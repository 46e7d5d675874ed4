"""The command line: ``python -m fakeusers train|predict|evaluate|models|demo-data``.

Errors print one line on stderr and exit with status 2; no traceback, and never a partial
output file (outputs are written to a temporary file, then renamed). Progress goes to stderr,
results to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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


def _model_name(store, requested: str | None) -> str:
    if requested:
        return requested
    name = store.newest()
    if name is None:
        raise FakeusersError(
            f"No models in {store.root}. Train one first: "
            "python -m fakeusers train LOGS.csv --name NAME"
        )
    _progress(f"Using model '{name}', the newest in {store.root} (choose one with --model).")
    return name


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


def _check_costs(args: argparse.Namespace) -> None:
    given = (args.cost_fp is not None, args.cost_fn is not None)
    if any(given) and not all(given):
        raise FakeusersError(
            "Give both costs: --cost-fp M (blocking a real user) and --cost-fn F (missing a fake)."
        )
    if getattr(args, "top_k", None) is not None and all(given):
        raise FakeusersError("Use either --cost-fp/--cost-fn or --top-k, not both.")


def _write_atomic(output: Path, write) -> None:
    """Write through ``write(tmp_path)`` to a temp file beside ``output``, then rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_train(args: argparse.Namespace) -> int:
    from fakeusers.models import train
    from fakeusers.reading import read_logs
    from fakeusers.store import validate_name

    name = validate_name(args.name or f"{args.model}-{time.strftime('%Y%m%d-%H%M%S')}")
    store = _store(args)
    if store.exists(name) and not args.replace:
        raise FakeusersError(
            f"Model '{name}' already exists in {store.root}. Choose another --name, or add "
            "--replace to overwrite it."
        )
    _progress(f"Reading {', '.join(args.logs)} ...")
    log = read_logs(args.logs)
    for line in log.report.summary_lines():
        _progress(line)
    model = train(
        log,
        args.model,
        random_state=args.seed,
        use_timestamps=not args.ignore_timestamps,
        progress=_progress,
    )
    store.save(name, model, model.card())
    cv = model.cv
    print(f"Model '{name}' ({args.model}) saved in {store.root / name}.")
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
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    _check_costs(args)
    inputs, output = _split_output(args.paths)
    store = _store(args)
    name = _model_name(store, args.model)
    from fakeusers.reading import read_logs

    # Loading the model imports scikit-learn; do it while pyarrow parses the logs.
    with ThreadPoolExecutor(max_workers=1) as pool:
        loading = pool.submit(store.load, name)
        _progress_if_large(inputs, f"Reading {', '.join(inputs)} ...")
        try:
            log = read_logs(inputs)
        finally:
            model, _ = loading.result()
    for warning in log.report.warnings:
        _progress(f"Warning: {warning}")
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from fakeusers.decisions import cost_threshold, flag_by_threshold, flag_top_k
    from fakeusers.models import score

    scores = score(model, log)
    p = scores["is_fake_probability"].to_numpy()
    columns = {"UserId": scores["UserId"].to_numpy(dtype=str), "is_fake_probability": p}
    summary = f"Scored {len(p):,} users with model '{name}'"
    if args.top_k is not None:
        flagged = flag_top_k(p, args.top_k)
        columns["flagged"] = flagged.astype(np.int8)
        summary += f"; flagged the top {int(flagged.sum()):,} (review capacity {args.top_k:,})"
    elif args.cost_fp is not None:
        threshold = cost_threshold(args.cost_fp, args.cost_fn)
        flagged = flag_by_threshold(p, threshold)
        columns["flagged"] = flagged.astype(np.int8)
        summary += f"; flagged {int(flagged.sum()):,} at threshold M/(M+F) = {threshold:.4f}"
    table = pa.table(columns)
    # IDs stay exactly as read (no spreadsheet neutralisation: this file is for machines);
    # quote them only when a delimiter, quote or line break in an ID requires it.
    needs_quotes = pc.any(pc.match_substring_regex(table["UserId"], '[,"\r\n]')).as_py()
    quoting = "needed" if needs_quotes else "none"

    def write(path: Path) -> None:
        with open(path, "wb") as fh:
            fh.write((",".join(table.column_names) + "\n").encode())
            pacsv.write_csv(
                table,
                fh,
                write_options=pacsv.WriteOptions(include_header=False, quoting_style=quoting),
            )

    _write_atomic(output, write)
    print(f"{summary}. Wrote {output}.")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    _check_costs(args)
    store = _store(args)
    name = _model_name(store, args.model)
    from fakeusers.decisions import decide
    from fakeusers.models import classification_metrics, score
    from fakeusers.reading import read_logs

    log = read_logs(args.logs)
    for warning in log.report.warnings:
        _progress(f"Warning: {warning}")
    y = log.require_labels()
    model, _ = store.load(name)
    p = score(model, log)["is_fake_probability"].to_numpy()
    m = classification_metrics(y, p)
    print(f"Model '{name}' on {m['users']:,} users ({m['fake_users']:,} fake):")
    for key, label in (
        ("roc_auc", "ROC AUC"),
        ("average_precision", "average precision"),
        ("brier", "Brier score"),
        ("log_loss", "log loss"),
    ):
        value = m[key]
        print(f"  {label:<18} {'n/a' if value is None else f'{value:.4f}'}")
    if args.cost_fp is not None or args.top_k is not None:
        cost_fp = args.cost_fp if args.cost_fp is not None else 1.0
        cost_fn = args.cost_fn if args.cost_fn is not None else 1.0
        d = decide(p, cost_fp=cost_fp, cost_fn=cost_fn, top_k=args.top_k, y_true=y)
        o = d.outcome
        rule = f"top {args.top_k:,}" if d.threshold is None else f"threshold {d.threshold:.4f}"
        print(f"Decision ({rule}): {d.n_flagged:,} users flagged ({d.share_flagged:.1%}).")
        print(f"  confusion: TP {o.tp:,}  FP {o.fp:,}  FN {o.fn:,}  TN {o.tn:,}")
        print(f"  precision {o.precision:.4f}  recall {o.recall:.4f}")
        if args.cost_fp is not None:
            print(f"  expected cost {d.expected_cost:,.2f}  realised cost {o.realised_cost:,.2f}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    store = _store(args)
    cards = store.list()
    if not cards:
        print(f"No models in {store.root}. Train one: python -m fakeusers train LOGS.csv")
        return 0
    header = (
        f"{'NAME':<28} {'CREATED':<20} {'TYPE':<9} {'USERS':>9} {'AUC':>7} {'AP':>7} {'BRIER':>7}"
    )
    print(header)
    for card in cards:
        if "error" in card:
            print(f"{card.get('name', '?'):<28} unusable: {card['error']}")
            continue
        cv = card.get("cv", {})
        users = card.get("training", {}).get("users", 0)

        def fmt(v):
            return "n/a" if v is None else f"{v:.4f}"

        print(
            f"{card['name']:<28} {card['created'][:19]:<20} {card['model_type']:<9} "
            f"{users:>9,} {fmt(cv.get('roc_auc')):>7} {fmt(cv.get('average_precision')):>7} "
            f"{fmt(cv.get('brier')):>7}"
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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``error:`` line with where to find help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from fakeusers import DEFAULT_MODEL, MODEL_TYPES

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--models-dir",
        metavar="DIR",
        help="the model store (default: $FAKEUSERS_MODELS_DIR, else ./models)",
    )
    parser = _Parser(
        prog="python -m fakeusers",
        description="Find the fake users in click logs and decide, in money, whom to block.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", parents=[common], help="train a model on labelled logs")
    p.add_argument("logs", nargs="+", metavar="LOGS", help="labelled log CSVs (with Fake)")
    p.add_argument("--name", help="model name (default: TYPE-DATE-TIME)")
    p.add_argument(
        "--replace", action="store_true", help="overwrite a model that has the same name"
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
    p.set_defaults(func=cmd_train)

    def decision_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", help="model name (default: the newest in the store)")
        p.add_argument(
            "--cost-fp",
            type=_cost,
            metavar="M",
            help="cost of blocking a real user; give it with --cost-fn: flags p >= M/(M+F)",
        )
        p.add_argument(
            "--cost-fn",
            type=_cost,
            metavar="F",
            help="cost of missing a fake user (with --cost-fp)",
        )
        p.add_argument(
            "--top-k",
            type=_positive_int,
            metavar="K",
            help="flag the K riskiest users instead of using costs",
        )

    p = sub.add_parser(
        "predict",
        parents=[common],
        help="score logs: writes UserId,is_fake_probability[,flagged]",
        usage="python -m fakeusers predict LOGS... OUTPUT.csv [options]",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="FILE",
        help="one or more input logs (.csv, .csv.gz), then the output file (.csv)",
    )
    decision_options(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", parents=[common], help="metrics of a model on labelled logs")
    p.add_argument("logs", nargs="+", metavar="LOGS", help="labelled logs (with a Fake column)")
    decision_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("models", parents=[common], help="list the model store")
    p.set_defaults(func=cmd_models)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except FakeusersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
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
