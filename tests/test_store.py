"""Tests for the model store, on real files: round trips, refusals, crashes, concurrency."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn

import fakeusers
from fakeusers.errors import FakeusersError
from fakeusers.store import MODELS_DIR_ENV, ModelStore, resolve_models_dir, validate_name

PROJECT_ROOT = Path(fakeusers.__file__).resolve().parents[1]

# Run by subprocesses: wait for a "go" file (so concurrent savers start together), then
# save a bundle of MB megabytes whose bytes and card both carry TAG.
SAVE_SCRIPT = """
import os, sys, time
import numpy as np
from fakeusers.store import ModelStore

root, name, megabytes, tag, go = sys.argv[1:6]
open(go + "." + tag + ".ready", "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
data = np.full(int(megabytes) * 2**20, ord(tag[0]), dtype=np.uint8)
ModelStore(root).save(name, {"tag": tag, "data": data}, {"tag": tag})
"""


class Payload:
    """Unpickling this creates ``marker``: proof that a file was (or was not) unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def bundle_files(model_dir: Path) -> list[str]:
    return sorted(p.name for p in model_dir.glob("bundle-*.joblib"))


def rewrite_card(store: ModelStore, name: str, **changes: object) -> None:
    path = store.root / name / "model.json"
    card = json.loads(path.read_text())
    card.update(changes)
    path.write_text(json.dumps(card))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start_saver(root: Path, name: str, megabytes: int, tag: str, go: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    args = [str(root), name, str(megabytes), tag, str(go)]
    return subprocess.Popen([sys.executable, "-c", SAVE_SCRIPT, *args], env=env)


def wait_for(condition, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


# --- round trips -------------------------------------------------------------------------


def test_save_load_round_trip(store: ModelStore) -> None:
    bundle = {"weights": np.arange(10.0), "vocabulary": ["click_ad", "send_email"]}
    caller_card = {"model": "logistic", "params": {"C": 1.0}, "cv": {"log_loss": 0.12}}

    saved = store.save("lr", bundle, caller_card)
    loaded_bundle, loaded_card = store.load("lr")

    np.testing.assert_array_equal(loaded_bundle["weights"], bundle["weights"])
    assert loaded_bundle["vocabulary"] == bundle["vocabulary"]
    assert loaded_card == saved == store.card("lr")
    assert {k: saved[k] for k in caller_card} == caller_card
    assert "name" not in caller_card, "the caller's card must not be modified"
    assert saved["name"] == "lr"
    assert dt.datetime.fromisoformat(saved["created"]).utcoffset() == dt.timedelta(0)
    bundle_path = store.root / "lr" / saved["bundle_file"]
    assert saved["bundle_file"] == f"bundle-{saved['bundle_sha256'][:16]}.joblib"
    assert saved["bundle_sha256"] == sha256(bundle_path)
    assert saved["bundle_bytes"] == bundle_path.stat().st_size
    assert saved["versions"]["scikit-learn"] == sklearn.__version__
    assert saved["versions"]["fakeusers"] == fakeusers.__version__
    assert set(saved["versions"]) == {
        "python",
        "scikit-learn",
        "pandas",
        "numpy",
        "joblib",
        "fakeusers",
    }


def test_numpy_values_in_the_card_become_plain_json(store: ModelStore) -> None:
    saved = store.save(
        "m", [1], {"auc": np.float64(0.97), "n_users": np.int64(5000), "coef": np.array([1, 2])}
    )
    on_disk = json.loads((store.root / "m" / "model.json").read_text())
    assert on_disk["auc"] == saved["auc"] == 0.97
    assert on_disk["n_users"] == 5000 and on_disk["coef"] == [1, 2]


def test_unserialisable_card_is_refused_before_writing(store: ModelStore) -> None:
    with pytest.raises(FakeusersError, match="card for model 'm'.*JSON"):
        store.save("m", [1], {"estimator": object()})
    assert not store.root.exists()


def test_list_and_newest_are_newest_first(store: ModelStore) -> None:
    store.save("older", "a", {})
    store.save("newer", "b", {})
    assert [entry["name"] for entry in store.list()] == ["newer", "older"]
    assert store.newest() == "newer"
    store.save("older", "c", {})
    assert store.newest() == "older"


def test_empty_store_is_not_created_until_a_save(store: ModelStore) -> None:
    assert store.list() == []
    assert store.newest() is None
    assert not store.root.exists()


def test_overwrite_replaces_the_model_and_keeps_one_bundle(store: ModelStore) -> None:
    store.save("m", "first", {"version": 1})
    store.save("m", "second", {"version": 2})
    bundle, card = store.load("m")
    assert (bundle, card["version"]) == ("second", 2)
    model_dir = store.root / "m"
    assert bundle_files(model_dir) == [card["bundle_file"]]
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(
        [".lock", "model.json", card["bundle_file"]]
    )


def test_delete(store: ModelStore) -> None:
    store.save("m", "x", {})
    store.delete("m")
    assert not (store.root / "m").exists()
    with pytest.raises(FakeusersError, match="No model named 'm'"):
        store.delete("m")
    store.save("m", "y", {})
    assert store.load("m")[0] == "y"


# --- where the models live ---------------------------------------------------------------


def test_models_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    assert resolve_models_dir() == Path("models")
    monkeypatch.setenv(MODELS_DIR_ENV, "")
    assert resolve_models_dir() == Path("models")

    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "from-env"))
    assert resolve_models_dir() == tmp_path / "from-env"
    assert resolve_models_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert ModelStore().root == tmp_path / "from-env"
    assert ModelStore(str(tmp_path / "explicit")).root == tmp_path / "explicit"

    ModelStore().save("m", 1, {})
    assert (tmp_path / "from-env" / "m" / "model.json").is_file()


def test_default_store_root_is_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    assert ModelStore().root == Path.cwd() / "models"


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "rf-2024.05_v2", "9", "x" * 64, "A.b"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "", "..", ".", ".hidden", "x" * 65, "x y", "-x", "a\\b", "a\n"]
)
def test_invalid_names_are_refused_everywhere(store: ModelStore, name: str) -> None:
    message = f"Model name {name!r} is not allowed: use 1-64 letters"
    with pytest.raises(FakeusersError, match="is not allowed"):
        validate_name(name)
    for call in (
        lambda: store.save(name, 1, {}),
        lambda: store.load(name),
        lambda: store.card(name),
        lambda: store.delete(name),
    ):
        with pytest.raises(FakeusersError) as excinfo:
            call()
        assert str(excinfo.value).startswith(message)
    assert not store.root.exists()


def test_invalid_name_message() -> None:
    with pytest.raises(FakeusersError) as excinfo:
        validate_name("../x")
    assert str(excinfo.value) == (
        "Model name '../x' is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit."
    )


# --- refusing unsafe or broken models, without unpickling them ---------------------------


def test_missing_model_says_how_to_train(store: ModelStore) -> None:
    for call in (lambda: store.load("x"), lambda: store.card("x")):
        with pytest.raises(FakeusersError) as excinfo:
            call()
        message = str(excinfo.value)
        assert f"No model named 'x' in {store.root}" in message
        assert "`python -m fakeusers train LOGS --name x`" in message
        assert "`python -m fakeusers models`" in message


def test_payload_is_live(tmp_path: Path) -> None:
    """Control for the tests below: unpickling a Payload does create its marker."""
    marker = tmp_path / "unpickled"
    path = tmp_path / "payload.pkl"
    path.write_bytes(pickle.dumps(Payload(marker)))
    joblib.load(path)
    assert marker.exists()


def test_flipped_byte_is_refused(store: ModelStore) -> None:
    card = store.save("m", {"data": np.arange(1000)}, {})
    path = store.root / "m" / card["bundle_file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(FakeusersError, match="sha256.*tampered"):
        store.load("m")


def test_tampered_bundle_is_never_unpickled(store: ModelStore, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    card = store.save("m", "honest", {})
    (store.root / "m" / card["bundle_file"]).write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(FakeusersError, match="sha256.*tampered"):
        store.load("m")
    assert not marker.exists()


def test_foreign_sklearn_version_is_refused_before_unpickling(
    store: ModelStore, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    card = store.save("m", Payload(marker), {})
    rewrite_card(store, "m", versions={**card["versions"], "scikit-learn": "0.24.2"})
    with pytest.raises(FakeusersError) as excinfo:
        store.load("m")
    assert str(excinfo.value).startswith(
        f"Model 'm' was trained with scikit-learn 0.24.2 but this is {sklearn.__version__}; "
        "retrain it with `python -m fakeusers train LOGS --name m`"
    )
    assert not marker.exists()
    assert "scikit-learn 0.24.2" in store.list()[0]["error"]
    assert store.newest() is None


@pytest.mark.parametrize("bundle_file", ["../../etc/passwd", "/etc/passwd", "..", "../outside"])
def test_bundle_file_outside_the_folder_is_refused(
    store: ModelStore, tmp_path: Path, bundle_file: str
) -> None:
    marker = tmp_path / "unpickled"
    outside = store.root / "outside"
    store.save("m", 1, {})
    outside.write_bytes(pickle.dumps(Payload(marker)))
    rewrite_card(store, "m", bundle_file=bundle_file, bundle_sha256=sha256(outside))
    with pytest.raises(FakeusersError, match="not a file inside the model's folder"):
        store.load("m")
    assert not marker.exists()


def test_symlinked_bundle_is_refused(store: ModelStore, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    outside = tmp_path / "outside.pkl"
    outside.write_bytes(pickle.dumps(Payload(marker)))
    store.save("m", 1, {})
    (store.root / "m" / "bundle-link.joblib").symlink_to(outside)
    rewrite_card(store, "m", bundle_file="bundle-link.joblib", bundle_sha256=sha256(outside))
    with pytest.raises(FakeusersError, match="not a plain file"):
        store.load("m")
    assert not marker.exists()


def test_card_and_list_never_unpickle(store: ModelStore, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    store.save("m", Payload(marker), {"model": "evil"})
    assert store.card("m")["model"] == "evil"
    assert store.list()[0]["name"] == "m"
    assert store.newest() == "m"
    assert not marker.exists()


def test_truncated_bundle_raises_fakeuserserror(store: ModelStore) -> None:
    card = store.save("m", {"data": np.arange(100_000)}, {})
    path = store.root / "m" / card["bundle_file"]
    path.write_bytes(path.read_bytes()[: card["bundle_bytes"] // 2])
    rewrite_card(store, "m", bundle_sha256=sha256(path))
    with pytest.raises(FakeusersError, match="could not be read.*Retrain"):
        store.load("m")


def test_missing_bundle_file(store: ModelStore) -> None:
    card = store.save("m", 1, {})
    (store.root / "m" / card["bundle_file"]).unlink()
    with pytest.raises(FakeusersError, match="is missing"):
        store.load("m")


def test_broken_card_is_refused(store: ModelStore) -> None:
    store.save("m", 1, {})
    (store.root / "m" / "model.json").write_text("{not json")
    with pytest.raises(FakeusersError, match=r"model\.json is not valid JSON \(line 1"):
        store.load("m")


def test_list_survives_broken_entries(store: ModelStore) -> None:
    store.save("good", 1, {})
    store.save("ghost", 2, {})
    (store.root / "ghost" / store.card("ghost")["bundle_file"]).unlink()
    store.save("no-created", 3, {})
    rewrite_card(store, "no-created", created="yesterday")
    (store.root / "garbage").mkdir()
    (store.root / "garbage" / "model.json").write_text("{nope")
    (store.root / "array").mkdir()
    (store.root / "array" / "model.json").write_text("[1, 2]")
    (store.root / "empty").mkdir()
    (store.root / ".hidden").mkdir()
    (store.root / "stray-file.txt").write_text("not a model")

    entries = {entry["name"]: entry for entry in store.list()}

    assert set(entries) == {"good", "ghost", "no-created", "garbage", "array", "empty"}
    assert "error" not in entries["good"]
    assert "missing" in entries["ghost"]["error"]
    assert "created" in entries["no-created"]["error"]
    assert "not valid JSON" in entries["garbage"]["error"]
    assert "not an object" in entries["array"]["error"]
    assert "No model named 'empty'" in entries["empty"]["error"]
    assert store.newest() == "good"
    store.delete("empty")
    assert "empty" not in {entry["name"] for entry in store.list()}


# --- crash safety ------------------------------------------------------------------------


def test_sigkill_mid_save_leaves_the_previous_model(store: ModelStore, tmp_path: Path) -> None:
    store.save("m", {"tag": "old"}, {"tag": "old"})
    model_dir = store.root / "m"
    go = tmp_path / "go"
    go.touch()
    saver = start_saver(store.root, "m", 200, "new", go)
    try:

        def writing() -> bool:
            return any(p.stat().st_size > 0 for p in model_dir.glob(".bundle-*.tmp"))

        wait_for(writing, what="the bundle temp file")
        saver.send_signal(signal.SIGKILL)
    finally:
        saver.kill()
        saver.wait()
    assert saver.returncode == -signal.SIGKILL, "the save finished before it could be killed"

    bundle, card = store.load("m")
    assert bundle == {"tag": "old"} and card["tag"] == "old"
    assert list(model_dir.glob(".bundle-*.tmp")), "the kill should have left the temp file"

    card = store.save("m", {"tag": "next"}, {"tag": "next"})
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(
        [".lock", "model.json", card["bundle_file"]]
    )


class Crash(BaseException):
    """Stands in for the process dying at a given step of a save."""


@pytest.mark.parametrize(
    ("step", "survivor"),
    [("bundle rename", "old"), ("card replace", "old"), ("cleanup", "new")],
)
def test_a_crash_at_any_step_leaves_a_loadable_model(
    store: ModelStore, monkeypatch: pytest.MonkeyPatch, step: str, survivor: str
) -> None:
    from fakeusers import store as store_module

    store.save("m", "old", {"tag": "old"})
    real_replace = os.replace
    replaces = []

    def replace(src, dst):
        replaces.append(dst)
        if (step, len(replaces)) in (("bundle rename", 1), ("card replace", 2)):
            raise Crash
        real_replace(src, dst)

    def cleanup(model_dir, keep):
        raise Crash

    monkeypatch.setattr(store_module.os, "replace", replace)
    if step == "cleanup":
        monkeypatch.setattr(store_module, "_remove_leftovers", cleanup)
    with pytest.raises(Crash):
        store.save("m", "new", {"tag": "new"})
    monkeypatch.undo()

    bundle, card = store.load("m")
    assert (bundle, card["tag"]) == (survivor, survivor)
    card = store.save("m", "after", {})
    assert bundle_files(store.root / "m") == [card["bundle_file"]]


# --- concurrency -------------------------------------------------------------------------


def test_concurrent_saves_of_one_name_end_with_one_valid_model(
    store: ModelStore, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    savers = [start_saver(store.root, "m", 40, tag, go) for tag in ("A", "B")]
    try:
        wait_for(lambda: len(list(tmp_path.glob("go.*.ready"))) == 2, what="both savers")
        go.touch()
        for saver in savers:
            assert saver.wait(timeout=30) == 0
    finally:
        for saver in savers:
            saver.kill()
            saver.wait()

    bundle, card = store.load("m")
    assert bundle["tag"] == card["tag"] in ("A", "B")
    assert int(bundle["data"][0]) == ord(card["tag"])
    model_dir = store.root / "m"
    assert bundle_files(model_dir) == [card["bundle_file"]]
    assert card["bundle_sha256"] == sha256(model_dir / card["bundle_file"])
    assert not list(model_dir.glob(".*.tmp"))


def test_a_save_waits_for_the_lock(store: ModelStore, tmp_path: Path) -> None:
    store.save("m", {"tag": "old"}, {"tag": "old"})
    go = tmp_path / "go"
    go.touch()
    with open(store.root / "m" / ".lock", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saver = start_saver(store.root, "m", 1, "new", go)
        try:
            time.sleep(1.5)
            assert saver.poll() is None, "the save did not wait for the lock"
            assert store.card("m")["tag"] == "old"
            assert not list((store.root / "m").glob(".bundle-*.tmp"))
            fcntl.flock(lock, fcntl.LOCK_UN)
            assert saver.wait(timeout=30) == 0
        finally:
            saver.kill()
            saver.wait()
    assert store.load("m")[1]["tag"] == "new"


def test_a_save_waiting_while_the_model_is_deleted_recreates_it(store: ModelStore) -> None:
    store.save("m", "old", {})
    model_dir = store.root / "m"
    with open(model_dir / ".lock", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saver = threading.Thread(target=store.save, args=("m", "new", {}))
        saver.start()
        time.sleep(0.3)
        # What delete() does while holding the lock: the waiting save's lock file vanishes.
        shutil.rmtree(model_dir)
    saver.join(timeout=30)
    assert store.load("m")[0] == "new"
    assert (model_dir / ".lock").is_file()
