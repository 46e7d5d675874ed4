"""The command line on Parquet logs: files and Spark-style folders, in a real subprocess."""

from __future__ import annotations

import pyarrow.parquet as pq

from fakeusers.demo import generate_log
from tests.support import assert_clean_error, parquet_bytes, read_csv, run_cli, typed_table


def test_train_predict_and_evaluate_read_parquet_files_and_folders(tmp_path):
    store = ["--models-dir", str(tmp_path / "store")]
    training = typed_table(generate_log(20_000, seed=1, timestamps=True))
    folder = tmp_path / "train.parquet"  # Spark names its output folders like files
    folder.mkdir()
    (folder / "_SUCCESS").write_bytes(b"")
    half = training.num_rows // 2
    pq.write_table(training.slice(0, half), folder / "part-00000.snappy.parquet")
    pq.write_table(training.slice(half), folder / "part-00001.snappy.parquet")
    r = run_cli("train", str(folder), "--name", "lake", *store)
    assert r.returncode == 0, r.stderr
    assert "Model 'lake' version 1" in r.stdout

    scored = generate_log(8_000, seed=2, timestamps=True)
    as_parquet = tmp_path / "score.parquet"
    as_parquet.write_bytes(parquet_bytes(typed_table(scored)))
    as_csv = tmp_path / "score.csv"
    r = run_cli("demo-data", str(as_csv), "--events", "8000", "--seed", "2", "--timestamps")
    assert r.returncode == 0, r.stderr
    outputs = []
    for source in (as_parquet, as_csv):
        out = tmp_path / f"{source.stem}-{source.suffix[1:]}-scores.csv"
        r = run_cli("predict", str(source), str(out), "--cost-fp", "1", "--cost-fn", "9", *store)
        assert r.returncode == 0, r.stderr
        outputs.append(read_csv(out))
    assert outputs[0] == outputs[1]  # the same users, probabilities and flags
    assert len(outputs[0]) == len(set(scored["UserId"].to_pylist()))

    r = run_cli("evaluate", str(as_parquet), "--cost-fp", "1", "--cost-fn", "9", *store)
    assert r.returncode == 0, r.stderr
    assert "ROC AUC" in r.stdout and "realised cost" in r.stdout


def test_bad_parquet_inputs_are_one_line_errors(tmp_path):
    store = ["--models-dir", str(tmp_path / "store")]
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(parquet_bytes(typed_table(generate_log(1_000, seed=1)))[:-100])
    assert_clean_error(run_cli("train", str(cut), *store), "cut.parquet cannot be read")
    empty = tmp_path / "logs"
    empty.mkdir()
    assert_clean_error(run_cli("train", str(empty), *store), "folder without .parquet files")
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())
