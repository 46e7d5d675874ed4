"""Progress of long work: the estimate of the time left, spans, and what training reports."""

from __future__ import annotations

import numpy as np
import pytest

from fakeusers.demo import generate_log
from fakeusers.models import score, train
from fakeusers.progress import FitClock, eta_words, within
from fakeusers.reading import read_logs


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_time_left_comes_from_the_fits_measured_so_far() -> None:
    clock = Clock()
    fits = FitClock([200, 100, 100, 100], workers=2, clock=clock)
    fits.start(0)
    fits.start(1)
    assert fits.eta_seconds() is None, "no estimate before a fit has finished"
    clock.now = 10.0
    fits.finish(1)  # 100 users in 10 s
    fits.start(2)
    assert fits.done == pytest.approx(0.2)
    # Left: 400 users at 0.1 s each, less the 10 s fit 0 has run, on 2 workers.
    assert fits.eta_seconds() == pytest.approx((400 * 0.1 - 10) / 2)
    clock.now = 20.0
    fits.finish(0)  # 300 users in 30 s: still 0.1 s per user
    fits.finish(2)
    fits.start(3)
    assert fits.eta_seconds() == pytest.approx(100 * 0.1 / 2)
    clock.now = 40.0
    fits.finish(3)
    assert (fits.done, fits.eta_seconds()) == (1.0, 0.0)


def test_a_part_reports_within_its_span_of_the_whole() -> None:
    seen = []
    part = within(lambda *a: seen.append(a), 0.2, 0.6)
    part("Fitting", 0.0, None)
    part("Fitting", 0.5, 12.0)
    part("Done", 1.0, None)
    assert seen == [("Fitting", 0.2, None), ("Fitting", 0.4, 12.0), ("Done", 0.6, None)]
    assert within(None, 0.2, 0.6) is None


def test_the_time_left_in_words() -> None:
    assert [eta_words(s) for s in (0.2, 42.4, 89, 185, None)] == [
        "about 1 s left",
        "about 42 s left",
        "about 89 s left",
        "about 3 min left",
        "",
    ]


@pytest.fixture(scope="module")
def log():
    df = generate_log(40_000, seed=3).to_pandas()
    return read_logs(("demo.csv", df.to_csv(index=False).encode()))


@pytest.mark.parametrize("model_type", ["logistic", "boosting"])
def test_training_reports_its_stages_in_order_ending_at_one(log, model_type: str) -> None:
    seen: list[tuple[str, float, float | None]] = []
    train(log, model_type, progress=lambda *a: seen.append(a), workers=2)
    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert [s.split()[0] for s in stages] == [
        "Computing",
        "Cross-validating",
        "Measuring",
        "Recording",
        "Trained",
    ]
    assert f"Cross-validating {model_type} (5 folds by user)" in stages[1]
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and done[0] == 0.0 and done[-1] == 1.0
    fits = [(d, eta) for stage, d, eta in seen if stage == stages[1]]
    assert len(fits) == 1 + 6, "the start, then each of the 5 folds and the fit on all users"
    assert fits[0][1] is None, "no estimate before a fit has finished"
    assert all(eta is not None and eta >= 0 for _, eta in fits[1:])
    assert fits[-1] == (pytest.approx(0.9), 0.0)


def test_fits_side_by_side_give_the_same_model_as_one_at_a_time(log) -> None:
    one = train(log, "boosting", random_state=5, workers=1)
    two = train(log, "boosting", random_state=5, workers=2)
    assert np.array_equal(one.oof_p, two.oof_p)
    assert np.array_equal(
        score(one, log)["is_fake_probability"], score(two, log)["is_fake_probability"]
    )
    assert one.cv == two.cv
