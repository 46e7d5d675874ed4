"""``train``, ``predict`` and ``evaluate``: the commands around the one scoring path."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from fakeusers.cli.common import (
    audit,
    cost,
    default_line,
    expected_cost_words,
    fmt,
    open_database,
    open_store,
    overlaps_option,
    positive_int,
    probability,
    progress,
    progress_if_large,
    rule_from,
    sha256_of,
    split_output,
    stages,
)
from fakeusers.errors import FakeusersError


def _score(args: argparse.Namespace, inputs: Sequence[str], rule):
    """Read, load and score through the one scoring path; say what the reader must know."""
    from fakeusers.partitioned import memory_budget, score_within

    budget = memory_budget(args.max_memory)
    store = _store_saying_model(args)
    progress_if_large(inputs, f"Reading {', '.join(inputs)} ...")
    verdicts, db = _verdicts(args, rule)
    scored = score_within(
        inputs,
        budget=budget,
        store=store,
        model=args.model,
        rule=rule,
        verdicts=verdicts,
        overlaps=args.overlaps,
        reasons=getattr(args, "reasons", False),
        progress=progress,
    )
    _say_verdicts_missing(scored, db)
    for warning in scored.log.report.warnings:
        progress(f"Warning: {warning}")
    for note in scored.notes():
        progress(f"Note: {note}")
    warning = scored.applicability.warning()
    if warning is not None:
        progress(f"warning: {warning}")
    return scored


def _store_saying_model(args: argparse.Namespace):
    """The model store, having said which model scores when none was chosen."""
    store = open_store(args)
    if args.model is None:
        name, version = store.default()
        progress(
            f"Using model '{name}@{version}', the default in {store.root} (choose one with "
            "--model NAME[@VERSION])."
        )
    return store


def _verdicts(args: argparse.Namespace, rule):
    """The analysts' verdicts that apply (with a rule, unless --no-verdicts), and the
    database they come from (None when not looked up)."""
    if rule is None or args.no_verdicts:
        return {}, None
    from fakeusers.verdicts import held_verdicts

    db = open_database(args)
    verdicts, problem = held_verdicts(db)
    if problem:
        progress(f"warning: {problem}")
    return verdicts, db


def _say_verdicts_missing(scored, db) -> None:
    if db is not None and scored.verdicts is None:
        # Say where verdicts were looked for: a review database elsewhere is easy to miss.
        where = "holds no verdict about these users" if db.exists() else "does not exist"
        progress(
            f"No analysts' verdicts applied: the review database {db.shown} {where} (another "
            "one: --db-url or FAKEUSERS_DB_URL)."
        )


def _score_spark(args: argparse.Namespace, inputs: Sequence[str], rule):
    """Score on Apache Spark (fakeusers.spark): the same features, model and decision."""
    from fakeusers import spark

    spark.require_pyspark()
    if args.reasons:
        raise FakeusersError(
            "--reasons is not available with --engine spark; leave it out, or score on this "
            "machine (without --engine spark) for reasons."
        )
    store = _store_saying_model(args)
    verdicts, db = _verdicts(args, rule)
    if len(inputs) > 1 and args.overlaps == "keep_one":
        progress(
            "Note: the Spark engine does not look for users repeated whole in two logs "
            "(overlapping exports): their events count twice, as with --overlaps keep_all."
        )
    progress(f"Scoring {', '.join(inputs)} on Spark ...")
    scored = spark.score_spark(
        inputs,
        store=store,
        model=args.model,
        rule=rule,
        verdicts=verdicts,
        master=args.spark_master,
    )
    _say_verdicts_missing(scored, db)
    return scored


def cmd_train(args: argparse.Namespace) -> int:
    from fakeusers.training import train_and_save

    store = open_store(args)
    verdicts = current = None
    if args.with_verdicts:
        from fakeusers.verdicts import VerdictStore

        verdicts = VerdictStore(open_database(args)).kinds()
        progress(f"{len(verdicts):,} verdicts in the review database.")
        if args.replace and args.name and store.exists(args.name):
            current = store.load(args.name)
    card, log = train_and_save(
        args.logs,
        store=store,
        name=args.name,
        model_type=args.model,
        seed=args.seed,
        use_timestamps=not args.ignore_timestamps,
        replace=args.replace,
        progress=stages(),
        verdicts=verdicts,
        overlaps=args.overlaps,
    )
    ref = f"{card['name']}@{card['version']}"
    with_what = " with analysts' verdicts" if verdicts is not None else ""
    audit(args, "train", model=ref, count=card["cv"]["users"], detail=f"trained{with_what}")
    cv = card["cv"]
    print(
        f"Model '{card['name']}' version {card['version']} ({args.model}) saved in "
        f"{store.root / card['name']}. {default_line(card)}"
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
        print(f"  {label:<18} {fmt(both['current'][key])} -> {fmt(both['new'][key])}")


def cmd_predict(args: argparse.Namespace) -> int:
    rule = rule_from(args)
    on_spark = args.engine == "spark"
    if args.spark_master is not None and not on_spark:
        raise FakeusersError("--spark-master goes with --engine spark.")
    inputs, output = split_output(args.paths, parquet=on_spark)
    scored = (_score_spark if on_spark else _score)(args, inputs, rule)
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from fakeusers.atomic import write_atomic

    columns = {"UserId": scored.log.user_id_text, "is_fake_probability": scored.p}
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
            summary += f", {expected_cost_words(scored.decision)}"
    if args.reasons:
        from fakeusers.export import REASON_COLUMNS

        reasons = scored.reasons(np.arange(scored.n_users))
        for r, name in enumerate(REASON_COLUMNS):
            columns[name] = [rs[r].text if r < len(rs) else "" for rs in reasons]
    table = pa.table(columns)
    parquet = output.name.lower().endswith(".parquet")
    if parquet:
        from fakeusers.spark import write_parquet

        # the path as given: Path() would fold the // of an hdfs:// or s3a:// URL
        write_parquet(table, args.paths[-1])
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

    if not parquet:
        write_atomic(output, write)
    print(f"{summary}. Wrote {args.paths[-1] if parquet else output}.")
    if scored.decision is not None:
        audit(
            args,
            "download",
            model=scored.model_ref,
            cost_fp=rule.cost_fp,
            cost_fn=rule.cost_fn,
            threshold=scored.decision.threshold,
            count=scored.decision.n_flagged,
            sha256=None if parquet else sha256_of(output),
            detail=f"predict wrote {output.name}: {rule.describe()}",
        )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    rule = rule_from(args)
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
            print(f"  {expected_cost_words(d)}  realised cost {o.realised_cost:,.2f}")
    return 0


def _train_parser(sub, common: argparse.ArgumentParser) -> None:
    from fakeusers import DEFAULT_MODEL, MODEL_TYPES

    p = sub.add_parser("train", parents=[common], help="train a model on labelled logs")
    p.add_argument(
        "logs",
        nargs="+",
        metavar="LOGS",
        help="labelled logs (with Fake): .csv, .csv.gz, .parquet, or folders of .parquet files",
    )
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
    overlaps_option(p)
    p.set_defaults(func=cmd_train)


def _decision_options(p: argparse.ArgumentParser) -> None:
    """The model, the rule and the overlaps choice, the same for predict and evaluate."""
    overlaps_option(p)
    p.add_argument(
        "--model",
        metavar="NAME[@VERSION]",
        help="the model (default: the promoted one; see: models)",
    )
    p.add_argument(
        "--cost-fp",
        type=cost,
        metavar="M",
        help="cost of blocking a real user; give it with --cost-fn: flags p >= M/(M+F)",
    )
    p.add_argument(
        "--cost-fn", type=cost, metavar="F", help="cost of missing a fake user (with --cost-fp)"
    )
    p.add_argument(
        "--top-k",
        type=positive_int,
        metavar="K",
        help="flag the K riskiest users (review capacity); costs, if given, price it",
    )
    p.add_argument(
        "--threshold",
        type=probability,
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
    p.add_argument(
        "--max-memory",
        metavar="SIZE",
        help="keep memory near SIZE (700MB, 4GB): a log too large for it is scored in "
        "partitions of users through temporary files, with the same result (default: half "
        "of the memory available)",
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
        help="one or more input logs (.csv, .csv.gz, .parquet, or a folder of .parquet files), "
        "then the output file (.csv); with --engine spark, inputs Spark reads (paths or URLs; "
        ".parquet for Parquet) and a .csv file or a .parquet folder",
    )
    _decision_options(p)
    p.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="where to compute: on this machine (local, the default) or on Apache Spark "
        "(needs: pip install -r requirements-spark.txt)",
    )
    p.add_argument(
        "--spark-master",
        metavar="URL",
        help="with --engine spark: the Spark master (local[4], spark://host:7077, yarn; "
        "default: spark-submit's, else local[*])",
    )
    p.add_argument(
        "--reasons",
        action="store_true",
        help="add reason_1..reason_3: why each user scores as they do, in words "
        "(the features that push them towards fake, against the model's real training users)",
    )
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", parents=[common], help="metrics of a model on labelled logs")
    p.add_argument(
        "logs",
        nargs="+",
        metavar="LOGS",
        help="labelled logs (with a Fake column): .csv, .csv.gz, .parquet or Parquet folders",
    )
    _decision_options(p)
    p.set_defaults(func=cmd_evaluate)
