"""The Spark engine (``predict --engine spark``) against the local path, on a real local Spark.

One local session (``local[2]``) serves every test. The probabilities must equal the local
path's: on the demo log, on a log split over several files and Spark partitions (event order
within a user crosses them), on a Parquet folder with typed columns, and on a log with the
spreadsheet damage the local reader cleans. pyspark is in requirements-dev.txt: without it
these tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from fakeusers.errors import FakeusersError
from fakeusers.reading import read_logs
from fakeusers.scoring import Rule, score_log, score_sources
from fakeusers.store import ModelStore
from tests.support import ROOT, assert_clean_error, csv_bytes, read_csv, run_cli, trained

try:
    import pyspark  # noqa: F401
except ImportError:
    if os.environ.get("CI"):
        pytest.fail("pyspark is required in CI (requirements-spark.txt)", pytrace=False)
    pytest.skip(
        "pyspark not installed (pip install -r requirements-spark.txt)", allow_module_level=True
    )

from fakeusers.spark import score_spark, spark_probabilities  # noqa: E402

DEMO = ROOT / "data" / "demo.csv"


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("fakeusers tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "3")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
    """A store with a model that uses timestamps (``ts``) and one that does not (``plain``),
    both trained on another log than the ones scored here."""
    models = ModelStore(tmp_path_factory.mktemp("models"))
    models.save("ts", trained(timestamps=True))
    models.save("plain", trained(timestamps=False))
    return models


def assert_same_scores(local, on_spark) -> None:
    """Same users in the same order, same events, the same probabilities (matrix products
    over other batches may change the last bit)."""
    assert on_spark.n_users == local.n_users
    np.testing.assert_array_equal(on_spark.user_ids, local.user_ids)
    np.testing.assert_array_equal(on_spark.n_events, local.n_events)
    np.testing.assert_allclose(on_spark.p, local.p, rtol=1e-12, atol=1e-15)


def test_demo_log_scores_as_locally(spark, store: ModelStore) -> None:
    rule = Rule.of(cost_fp=1, cost_fn=9)
    local = score_sources([str(DEMO)], store=store, model="ts", rule=rule)
    on_spark = score_spark([str(DEMO)], store=store, model="ts", rule=rule, spark=spark)
    assert_same_scores(local, on_spark)
    assert on_spark.model_ref == "ts@1"
    np.testing.assert_array_equal(on_spark.decision.flagged, local.decision.flagged)
    assert on_spark.decision.n_flagged > 0


def test_several_files_and_partitions_keep_each_users_order(
    spark, store: ModelStore, tmp_path: Path
) -> None:
    # Three files, each split into several Spark partitions (small maximum partition size):
    # a user's events cross both boundaries, and switches and runs depend on their order.
    table = pacsv.read_csv(DEMO, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    folder = tmp_path / "logs"
    folder.mkdir()
    bounds = [0, 30_000, 65_000, table.num_rows]
    for i in range(3):
        part = table.slice(bounds[i], bounds[i + 1] - bounds[i])
        pacsv.write_csv(part.select(["UserId", "Event", "Category"]), folder / f"part-{i}.csv")
    files = [str(folder / f"part-{i}.csv") for i in range(3)]
    local = score_log(read_logs(files, overlaps="keep_all"), store.load("plain").model)
    before = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "200000")
    try:
        assert spark.read.csv(str(folder), header=True).rdd.getNumPartitions() >= 6
        on_spark = score_spark([str(folder)], store=store, model="plain", spark=spark)
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", before)
    assert_same_scores(local, on_spark)


def test_parquet_folder_with_typed_columns(spark, store: ModelStore, tmp_path: Path) -> None:
    # Parquet as a data lake writes it: integer IDs, real timestamps, several files.
    log = read_logs(str(DEMO))
    table = pa.table(
        {
            "UserId": pa.array(log.user_ids[log.user_codes].astype(np.int64)),
            "Event": pa.array(np.asarray(log.event_values)[log.event_codes]),
            "Category": pa.array(np.asarray(log.category_values)[log.category_codes]),
            "Timestamp": pa.array(
                np.round(log.timestamps * 1000).astype(np.int64).astype("datetime64[ms]")
            ),
        }
    )
    folder = tmp_path / "day.parquet"
    folder.mkdir()
    for i, start in enumerate(range(0, table.num_rows, 40_000)):
        pq.write_table(table.slice(start, 40_000), folder / f"part-{i}.parquet")
    local = score_sources([str(DEMO)], store=store, model="ts")
    on_spark = score_spark([str(folder)], store=store, model="ts", spark=spark)
    assert_same_scores(local, on_spark)


def test_spreadsheet_damage_is_cleaned_as_locally(spark, store: ModelStore, tmp_path: Path) -> None:
    lines = csv_bytes(3_000, seed=5, labelled=False).decode().splitlines()
    damaged = [lines[0]]
    for i, line in enumerate(lines[1:], start=1):
        user, event, category, stamp = (f.strip('"') for f in line.split(","))
        if i % 7 == 0:
            user = f"  {user} "  # padded: the same user
        if i % 11 == 0:
            event = "click_banner"  # unknown: counted as other
        if i % 13 == 0:
            category = ""  # dropped
        damaged.append(",".join([user, event, category, stamp]))
        if i == 1500:
            damaged.append(lines[0])  # a header repeated where two files were concatenated
    path = tmp_path / "damaged.csv"
    path.write_bytes(("\ufeff" + "\r\n".join(damaged) + "\r\n").encode())
    local = score_sources([str(path)], store=store, model="ts")
    assert local.log.report.dropped and local.log.report.unknown_events
    on_spark = score_spark([str(path)], store=store, model="ts", spark=spark)
    assert_same_scores(local, on_spark)


def test_verdicts_override_the_model(spark, store: ModelStore) -> None:
    rule = Rule.of(threshold=0.5)
    plain = score_spark([str(DEMO)], store=store, model="plain", rule=rule, spark=spark)
    riskiest, safest = plain.order[0], plain.order[-1]
    verdicts = {plain.user_ids[riskiest]: "real", plain.user_ids[safest]: "fake"}
    local = score_sources([str(DEMO)], store=store, model="plain", rule=rule, verdicts=verdicts)
    on_spark = plain.with_verdicts(verdicts)
    assert not on_spark.decision.flagged[riskiest] and on_spark.decision.flagged[safest]
    assert on_spark.why[riskiest] == "cleared" and on_spark.why[safest] == "confirmed fake"
    np.testing.assert_array_equal(on_spark.decision.flagged, local.decision.flagged)


def test_unusable_inputs_are_refused_clearly(spark, store: ModelStore, tmp_path: Path) -> None:
    model = store.load("ts").model
    with pytest.raises(FakeusersError, match=r"Spark cannot read .*missing\.csv"):
        spark_probabilities(spark, [str(tmp_path / "missing.csv")], model)
    no_times = tmp_path / "no-times.csv"
    no_times.write_bytes(csv_bytes(2_000, seed=3, timestamps=False))
    with pytest.raises(FakeusersError, match="--ignore-timestamps"):
        spark_probabilities(spark, [str(no_times)], model)
    bad_time = tmp_path / "bad-time.csv"
    bad_time.write_text(
        "UserId,Event,Category,Timestamp\n"
        + "".join(f"u{i % 40},click_ad,Motor,2026-11-24T10:00:{i % 60:02d}Z\n" for i in range(200))
        + "u3,send_sms,Jobs,yesterday\n"
    )
    with pytest.raises(FakeusersError, match=r"Timestamp column cannot be used \(.*yesterday"):
        spark_probabilities(spark, [str(bad_time)], model)
    no_user = tmp_path / "no-user.csv"
    no_user.write_text("Event,Category\nclick_ad,Motor\n")
    with pytest.raises(FakeusersError, match="'UserId'"):
        spark_probabilities(spark, [str(no_user)], model)


def test_cli_writes_a_parquet_folder(spark, store: ModelStore, tmp_path: Path) -> None:
    # In process, on the tests' session (the one a spark-submit job would hand over).
    from fakeusers.cli import main

    output = tmp_path / "scores.parquet"
    args = [str(DEMO), str(output), "--models-dir", str(store.root), "--model", "plain"]
    assert main(["predict", *args, "--engine", "spark", "--top-k", "25"]) == 0
    written = pq.read_table(output)
    local = score_sources([str(DEMO)], store=store, model="plain", rule=Rule.of(top_k=25))
    by_user = dict(zip(written["UserId"].to_pylist(), written.to_pylist(), strict=True))
    assert set(by_user) == set(local.user_ids)
    p = np.array([by_user[u]["is_fake_probability"] for u in local.user_ids])
    flagged = np.array([by_user[u]["flagged"] for u in local.user_ids])
    np.testing.assert_allclose(p, local.p, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(flagged, local.decision.flagged.astype(int))
    assert flagged.sum() == 25
    assert main(["predict", *args, "--engine", "spark"]) == 2  # never overwritten


def test_cli_subprocess_writes_the_local_csv(store: ModelStore, tmp_path: Path) -> None:
    common = [str(DEMO), "--models-dir", str(store.root), "--cost-fp", "1", "--cost-fn", "9"]
    local_out, spark_out = tmp_path / "local.csv", tmp_path / "spark.csv"
    local = run_cli("predict", *common[:1], str(local_out), *common[1:], "--model", "ts")
    assert local.returncode == 0, local.stderr
    result = run_cli(
        "predict",
        *common[:1],
        str(spark_out),
        *common[1:],
        "--model",
        "ts",
        "--engine",
        "spark",
        "--spark-master",
        "local[2]",
        env={"PYSPARK_PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.split(". Wrote")[0] == local.stdout.split(". Wrote")[0]
    rows, expected = read_csv(spark_out), read_csv(local_out)
    assert list(rows[0]) == ["UserId", "is_fake_probability", "flagged", "why"]
    assert [(r["UserId"], r["flagged"], r["why"]) for r in rows] == [
        (r["UserId"], r["flagged"], r["why"]) for r in expected
    ]
    np.testing.assert_allclose(
        [float(r["is_fake_probability"]) for r in rows],
        [float(r["is_fake_probability"]) for r in expected],
        rtol=1e-12,
    )


def test_without_pyspark_the_cli_says_how_to_install_it(tmp_path: Path) -> None:
    stub = tmp_path / "stub" / "pyspark"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('raise ImportError("No module named pyspark")\n')
    env = {k: v for k, v in os.environ.items() if k != "FAKEUSERS_MODELS_DIR"}
    env["PYTHONPATH"] = f"{tmp_path / 'stub'}{os.pathsep}{ROOT}"
    result = subprocess.run(
        [sys.executable, "-m", "fakeusers", "predict", str(DEMO), str(tmp_path / "out.csv")]
        + ["--engine", "spark"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert_clean_error(result, "pip install -r requirements-spark.txt")
    assert not (tmp_path / "out.csv").exists()


def test_spark_options_need_the_spark_engine(tmp_path: Path) -> None:
    result = run_cli("predict", str(DEMO), str(tmp_path / "out.csv"), "--spark-master", "local[2]")
    assert_clean_error(result, "--engine spark")


def test_without_java_the_cli_says_what_spark_needs(store: ModelStore, tmp_path: Path) -> None:
    result = run_cli(
        "predict",
        str(DEMO),
        str(tmp_path / "out.csv"),
        "--models-dir",
        str(store.root),
        "--engine",
        "spark",
        env={"JAVA_HOME": str(tmp_path / "no-java"), "PYSPARK_PYTHON": sys.executable},
    )
    assert_clean_error(result, "Spark did not start", "Java 17")
    assert not (tmp_path / "out.csv").exists()
