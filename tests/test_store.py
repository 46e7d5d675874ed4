"""The model store on real files: versions, the default, refusals, crashes and races."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.preprocessing import StandardScaler

from fakeusers.errors import (
    FakeusersError,
    ModelExistsError,
    ModelNotFoundError,
    ModelUnusableError,
)
from fakeusers.store import (
    CARD_SCHEMA,
    MODELS_DIR_ENV,
    ModelStore,
    default_name,
    parse_ref,
    resolve_models_dir,
    validate_name,
)
from tests.support import ROOT, trained


@pytest.fixture(scope="module")
def model():
    return trained(8_000, seed=1, timestamps=False)


@pytest.fixture(scope="module")
def boosting():
    return trained(8_000, seed=1, model_type="boosting", timestamps=False)


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


class Payload:
    """Unpickling this creates ``marker``: proof that a file was (or was not) unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def features(model, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(n, len(model.feature_names))), columns=model.feature_names)


def rewrite_card(store: ModelStore, ref: str, **changes: object) -> Path:
    name, version = store.resolve(ref)
    path = store.root / name / f"v{version}" / "model.json"
    card = json.loads(path.read_text())
    card.update(changes)
    path.write_text(json.dumps(card))
    return path


def plant_bundle(store: ModelStore, ref: str, data: bytes) -> None:
    """Replace a bundle with ``data`` and record its sha256, as someone who can write the
    store could: the checksum then matches, so only the loader's own checks stand."""
    name, version = store.resolve(ref)
    (store.root / name / f"v{version}" / "model.skops").write_bytes(data)
    rewrite_card(store, ref, bundle_sha256=hashlib.sha256(data).hexdigest())


def test_round_trip_rebuilds_the_model_from_stock_objects_and_the_card(store, model):
    card = store.save("june", model)
    assert (card["name"], card["version"], card["schema"]) == ("june", 1, CARD_SCHEMA)
    assert card["default"] is True  # the first model of a store
    folder = store.root / "june" / "v1"
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.skops", "scoring.npz"]
    loaded = store.load("june")
    assert loaded.ref == "june@1" and loaded.card == {
        k: v for k, v in card.items() if k != "default"
    }
    assert type(loaded.model) is type(model)
    assert loaded.model.vocabulary == model.vocabulary
    np.testing.assert_array_equal(loaded.model.oof_p, model.oof_p)
    X = features(model, 50)
    # scored by the stored arrays, as the pipeline scores, to the last bit
    np.testing.assert_array_equal(
        loaded.model.predictor.predict_proba(X), model.pipeline.predict_proba(X)
    )
    np.testing.assert_array_equal(
        loaded.model.pipeline.predict_proba(X), model.pipeline.predict_proba(X)
    )
    # The bundle names no class of ours: moving or renaming them breaks no saved model.
    with zipfile.ZipFile(folder / "model.skops") as archive:
        assert "fakeusers" not in archive.read("schema.json").decode()


def test_boosting_round_trips_with_the_trusted_types(store, boosting):
    store.save("boost", boosting)
    X = features(boosting, 20)
    np.testing.assert_array_equal(
        store.load("boost").model.pipeline.predict_proba(X), boosting.pipeline.predict_proba(X)
    )


def test_files_follow_the_umask(store, model):
    store.save("june", model)
    for path in (store.root / "june" / "v1").iterdir():
        assert path.stat().st_mode & 0o777 == 0o644


def test_a_taken_name_is_refused_and_replace_adds_a_version(store, model, boosting):
    store.save("june", model)
    with pytest.raises(ModelExistsError, match="already exists.*--replace"):
        store.save("june", boosting)
    with pytest.raises(ModelExistsError):
        store.check_free("june")
    card = store.save("june", boosting, replace=True)
    assert card["version"] == 2 and card["default"] is False
    assert store.load("june").ref == "june@2"
    assert store.load("june@1").model.model_type == "logistic"
    assert [(v["version"], v["current"]) for v in store.versions("june")] == [(2, True), (1, False)]
    (entry,) = store.list()
    assert (entry["version"], entry["n_versions"]) == (2, 2)


def test_rollback_changes_what_the_name_means_and_keeps_later_versions(store, model, boosting):
    store.save("june", model)
    store.save("june", boosting, replace=True)
    store.rollback("june@1")
    assert store.resolve("june") == ("june", 1)
    assert store.load("june@2").version == 2
    assert store.save("june", boosting, replace=True)["version"] == 3
    assert store.resolve("june") == ("june", 3), "a new version is current again"
    with pytest.raises(FakeusersError, match="june@N"):
        store.rollback("june")
    with pytest.raises(ModelNotFoundError, match="no version 9.*1, 2, 3"):
        store.rollback("june@9")


def test_the_default_is_promoted_not_the_newest(store, model, boosting):
    with pytest.raises(ModelNotFoundError, match="No models"):
        store.load()
    store.save("first", model)
    store.save("second", boosting)
    assert store.load().ref == "first@1", "a later training does not take over the default"
    store.save("first", boosting, replace=True)
    assert store.load().ref == "first@1", "nor does a new version of the default's name"
    store.promote("second")
    assert store.load().ref == "second@1"
    store.promote("first@2")
    assert store.default() == ("first", 2)
    assert [e["default"] for e in store.list() if e["name"] == "first"] == [True]


def test_without_a_promotion_only_a_lone_model_is_the_default(store, model):
    store.save("a", model)
    (store.root / "promoted.json").unlink()
    assert store.default() == ("a", 1)
    store.save("b", model)
    (store.root / "promoted.json").unlink()
    with pytest.raises(ModelNotFoundError, match="2 models and none is the default.*promote"):
        store.load()


def test_deleting_the_default_unsets_it(store, model):
    store.save("a", model)
    store.save("b", model)
    store.delete("a")
    assert store.default() == ("b", 1)
    with pytest.raises(ModelNotFoundError, match="No model named 'a'"):
        store.load("a")


def test_a_broken_model_cannot_be_promoted(store, model):
    store.save("a", model)
    store.save("b", model)
    rewrite_card(store, "b", bundle_sha256="0" * 64)
    with pytest.raises(ModelUnusableError, match="sha256"):
        store.promote("b")
    assert store.default() == ("a", 1)


def test_names_refs_and_folders():
    assert validate_name("rf-2024.05_v2") == "rf-2024.05_v2"
    for bad in ["", "../evil", ".hidden", "a/b", "x" * 65, "a b", "é"]:
        with pytest.raises(FakeusersError, match="not allowed"):
            validate_name(bad)
    assert parse_ref("june@12") == ("june", 12) and parse_ref("june") == ("june", None)
    for bad in ["june@", "june@0", "june@x", "june@-1"]:
        with pytest.raises(FakeusersError, match="NAME@N"):
            parse_ref(bad)
    assert default_name("boosting").startswith("boosting-")
    assert resolve_models_dir("/srv/m") == Path("/srv/m")


def test_models_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    assert ModelStore().root == tmp_path
    monkeypatch.setenv(MODELS_DIR_ENV, "")
    assert ModelStore().root == Path("models").absolute()


def test_numpy_values_in_the_card_become_plain_json(store, model):
    store.save("june", model)
    text = (store.root / "june" / "v1" / "model.json").read_text()
    assert json.loads(text)["cv"]["roc_auc"] == pytest.approx(model.cv["roc_auc"])


# Loading runs no code --------------------------------------------------------------------


def test_a_pickle_with_a_matching_sha256_is_never_unpickled(store, model, tmp_path):
    store.save("june", model)
    marker = tmp_path / "ran"
    plant_bundle(store, "june", pickle.dumps(Payload(marker)))
    with pytest.raises(ModelUnusableError, match="not a skops file"):
        store.load("june")
    assert not marker.exists()


def test_a_skops_file_with_untrusted_types_is_refused_whatever_its_sha256(store, model):
    store.save("june", model)
    planted = sio.dumps({"pipeline": os.system, "oof_y": np.zeros(1), "oof_p": np.zeros(1)})
    plant_bundle(store, "june", planted)
    with pytest.raises(ModelUnusableError, match="does not trust.*os.system|posix.system"):
        store.load("june")


def test_a_stock_estimator_that_is_not_our_model_is_unusable(store, model):
    store.save("june", model)
    scaler = StandardScaler().fit(np.random.default_rng(0).normal(size=(20, 2)))
    bundle = {"pipeline": scaler, "oof_y": np.zeros(1), "oof_p": np.zeros(1)}
    plant_bundle(store, "june", sio.dumps(bundle))
    with pytest.raises(ModelUnusableError, match="not a fakeusers model|lacks"):
        store.load("june")


def test_a_flipped_byte_is_refused(store, model):
    store.save("june", model)
    path = store.root / "june" / "v1" / "model.skops"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelUnusableError, match="does not match the sha256"):
        store.load("june")


def test_old_pickled_models_are_refused_with_how_to_retrain(store, tmp_path):
    marker = tmp_path / "ran"
    old = store.root / "legacy"
    old.mkdir(parents=True)
    data = pickle.dumps(Payload(marker))
    (old / "bundle-0123456789abcdef.joblib").write_bytes(data)
    card = {"name": "legacy", "bundle_file": "bundle-0123456789abcdef.joblib"}
    card["bundle_sha256"] = hashlib.sha256(data).hexdigest()
    (old / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelUnusableError, match="older fakeusers.*--name legacy --replace"):
        store.load("legacy")
    (entry,) = store.list()
    assert "older fakeusers" in entry["error"]
    with pytest.raises(ModelExistsError):
        store.check_free("legacy")
    assert not marker.exists()


def test_a_model_folder_linked_from_outside_the_store_is_refused(store, model, tmp_path):
    outside = ModelStore(tmp_path / "elsewhere")
    outside.save("evil", model)
    store.save("good", model)
    (store.root / "evil").symlink_to(outside.root / "evil")
    with pytest.raises(ModelUnusableError, match="link"):
        store.load("evil")
    (store.root / "good" / "v2").symlink_to(outside.root / "evil" / "v1")
    with pytest.raises(ModelUnusableError, match="link"):
        store.load("good@2")
    entries = {e["name"]: e for e in store.list()}
    assert "link" in entries["evil"]["error"]
    assert "link" in entries["good"]["error"], "a planted version is refused loudly, not skipped"
    assert store.load("good@1").ref == "good@1"


def test_a_linked_bundle_file_is_refused(store, model, tmp_path):
    store.save("june", model)
    bundle = store.root / "june" / "v1" / "model.skops"
    copy = tmp_path / "copy.skops"
    copy.write_bytes(bundle.read_bytes())
    bundle.unlink()
    bundle.symlink_to(copy)
    with pytest.raises(ModelUnusableError, match="not a plain file"):
        store.load("june")


def test_another_scikit_learn_or_card_schema_is_refused(store, model):
    store.save("june", model)
    rewrite_card(store, "june", libraries={"scikit-learn": "0.1"})
    with pytest.raises(ModelUnusableError, match="scikit-learn 0.1"):
        store.load("june")
    rewrite_card(store, "june", schema=1)
    with pytest.raises(ModelUnusableError, match="schema 1"):
        store.card("june")


def test_broken_cards_are_listed_with_the_reason(store, model):
    store.save("a", model)
    store.save("b", model)
    (store.root / "b" / "v1" / "model.json").write_text("{not json")
    entries = {e["name"]: e for e in store.list()}
    assert "not valid JSON" in entries["b"]["error"] and "error" not in entries["a"]


# Crashes and races -----------------------------------------------------------------------

SAVE = """
import sys, time
from fakeusers.store import ModelStore
from tests.support import trained
model = trained(8_000, seed=1, timestamps=False)
go = sys.argv[3]
open(go + "." + sys.argv[4], "w").close()
while not __import__("os").path.exists(go):
    time.sleep(0.001)
try:
    card = ModelStore(sys.argv[1]).save(sys.argv[2], model)
    print("saved", card["version"])
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def test_racing_saves_of_one_free_name_end_with_one_success(store, tmp_path):
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SAVE, str(store.root), "june", str(go), str(i)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for i in range(4)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.*"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(o.split()[0] for o in outputs) == ["ModelExistsError"] * 3 + ["saved"], outputs
    assert [v["version"] for v in store.versions("june")] == [1]
    assert store.load("june").ref == "june@1"


KILLED = """
import os, sys
from fakeusers import atomic
from fakeusers.store import ModelStore
from tests.support import trained
model = trained(8_000, seed=1, timestamps=False)
write = atomic.write_bytes_atomic
def dying(path, data, **kw):
    if path.name == sys.argv[3]:
        os.kill(os.getpid(), 9)
    return write(path, data, **kw)
import fakeusers.store
fakeusers.store.write_bytes_atomic = dying
ModelStore(sys.argv[1]).save(sys.argv[2], model, replace=True)
"""


@pytest.mark.parametrize("dies_at", ["model.skops", "model.json"])
def test_a_save_killed_midway_leaves_the_previous_version_and_no_partial_one(store, model, dies_at):
    store.save("june", model)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", KILLED, str(store.root), "june", dies_at]
    r = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert store.resolve("june") == ("june", 1)
    assert [v["version"] for v in store.versions("june")] == [1]
    assert store.load("june").ref == "june@1"
    assert store.save("june", model, replace=True)["version"] == 2
    assert not list((store.root / "june").glob(".v*")), "the next save cleans up"


def test_listing_reads_cards_only(store, model, tmp_path):
    store.save("june", model)
    marker = tmp_path / "ran"
    plant_bundle(store, "june", pickle.dumps(Payload(marker)))
    (entry,) = store.list()
    assert entry["name"] == "june" and not marker.exists()
    assert store.card("june")["version"] == 1


def test_skops_schema_is_what_the_check_reads(model):
    data = sio.dumps(model.bundle())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "schema.json" in archive.namelist()
