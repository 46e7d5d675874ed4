"""The applicability check: a log from the training population fits, a log of another shape
does not, and the reasons say why in words."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from fakeusers import applicability
from fakeusers.bundles import plain
from fakeusers.demo import generate_log
from fakeusers.models import TrainedModel
from fakeusers.reading import read_logs
from fakeusers.scoring import Rule, score_log
from tests.support import csv_bytes, shifted_csv_bytes, trained

TRAIN_EVENTS = 100_000
RULE = Rule.of(cost_fp=1, cost_fn=9)


@pytest.fixture(scope="module")
def model():
    return trained(TRAIN_EVENTS, seed=1)


def scored(model, data: bytes, rule=RULE):
    return score_log(read_logs([("log.csv", data)]), model, rule)


def test_the_card_records_a_json_profile_of_the_training_data(model):
    card = plain(model.card())
    json.dumps(card, allow_nan=False)  # strict JSON: the API answers cards as they are
    prof = card["profile"]
    assert prof["users"] == len(model.oof_p)
    assert set(prof["features"]) == set(model.feature_names)
    assert len(prof["features"]["n_events"]["deciles"]) == 9
    real = prof["real_percentiles"]
    assert real["levels"] == list(range(1, 100))
    assert len(real["features"]["category_switches"]) == 99
    # percentiles over real users only: the fakes' many events are above their 99th
    assert real["features"]["n_events"][98] < max(prof["features"]["n_events"]["deciles"]) * 3


@pytest.mark.parametrize("n_events", [2_000, 20_000, 100_000])
@pytest.mark.parametrize("seed", [2, 3, 4])
def test_a_log_of_the_training_population_fits_at_every_size(model, n_events, seed):
    result = scored(model, csv_bytes(n_events, seed)).applicability
    assert result.status == "fits", result.reasons
    assert "look like the model's" in result.reasons[0]
    assert result.warning() is None


@pytest.mark.parametrize("rule", [RULE, Rule.of(top_k=100), None])
def test_a_log_of_another_shape_does_not_fit_and_says_why(model, rule):
    result = scored(model, shifted_csv_bytes(20_000, seed=5), rule).applicability
    assert result.status == "does_not_fit"
    words = " ".join(result.reasons)
    assert "click_ad" in words or "send_email" in words
    assert result.shifted_features and result.psi_max > 0.25
    assert result.probability["mean_here"] > 2 * result.probability["mean_training"]
    assert result.warning().startswith("the log does not fit the model")


def test_the_flagged_share_is_compared_under_each_rule(model):
    base = scored(model, shifted_csv_bytes(20_000, seed=5))
    share = base.applicability.flagged_share
    assert share["threshold"] == pytest.approx(0.1)
    assert share["share_here"] == pytest.approx(base.decision.share_flagged)
    assert share["share_here"] > 3 * share["share_training"]
    assert "of its training users (out-of-fold)" in base.applicability.reasons[0]
    stricter = base.with_rule(Rule.of(cost_fp=1, cost_fn=1)).applicability.flagged_share
    assert stricter["threshold"] == pytest.approx(0.5)
    assert stricter["share_here"] < share["share_here"]
    assert base.with_rule(None).applicability.flagged_share is None


def test_unseen_events_and_categories_are_named(model):
    table = generate_log(20_000, seed=6, timestamps=True)
    for column, old, new in (
        ("Event", "send_sms", "send_whatsapp"),
        ("Category", "Holidays", "Pets"),
    ):
        renamed = pc.replace_substring(table[column], old, new)
        table = table.set_column(table.schema.get_field_index(column), column, renamed)
    buf = io.BytesIO()
    pacsv.write_csv(table, buf)
    result = scored(model, buf.getvalue()).applicability
    assert [v["value"] for v in result.unseen["events"]] == ["send_whatsapp"]
    assert [v["value"] for v in result.unseen["categories"]] == ["Pets"]
    assert 0.2 < result.unseen["row_share"] < 0.5
    words = " ".join(result.reasons)
    assert "'send_whatsapp'" in words and "'Pets'" in words and "never saw" in words
    assert result.status == "does_not_fit"


def test_a_model_saved_before_profiles_loads_scores_and_cannot_tell(model):
    card = plain(model.card())
    del card["profile"]
    old = TrainedModel.from_bundle(model.bundle(), {**card, "name": "old"})
    assert old.profile == {}
    result = scored(old, shifted_csv_bytes(20_000, seed=5)).applicability
    assert result.status == "unknown"
    assert "retrain" in result.reasons[0]
    assert result.warning().startswith("cannot tell whether the log fits the model")
    assert result.psi_max is None


def test_the_training_log_fits_without_measuring(model):
    log = read_logs([("train.csv", csv_bytes(TRAIN_EVENTS, 1))])
    result = score_log(log, model, RULE).applicability
    assert result.status == "fits"
    assert "own training log" in result.reasons[0]


def test_to_dict_is_strict_json(model):
    for data in (csv_bytes(2_000, 7), shifted_csv_bytes(2_000, 7)):
        result = scored(model, data).applicability
        out = result.to_dict()
        assert json.loads(json.dumps(out, allow_nan=False)) == out
        assert out["status"] in applicability.STATUSES
        assert out["in_words"] == result.in_words


def test_check_is_the_one_call_for_callers_with_features(model):
    from fakeusers.models import features_and_probabilities

    log = read_logs([("log.csv", shifted_csv_bytes(5_000, 8))])
    X, p = features_and_probabilities(model, log)
    result = applicability.check(model, log, X, p, RULE)
    assert result == score_log(log, model, RULE).applicability
    no_profile = dataclasses.replace(model, profile={})
    assert applicability.check(no_profile, log, X, p, RULE).status == "unknown"
    assert np.isfinite(result.psi_max)
