"""Does TreeSHAP earn its place? The boosting model's reasons by TreeSHAP against the
reference ablation it replaced, and what reasons in words cost ``predict``.

On a demo log (a boosting model trained on one seed, another seed scored):

- faithfulness: how far each method's contributions are from adding up to the model's
  log-odds (TreeSHAP: to the same base value for every user; ablation: to ``f(x) - f(ref)``);
- agreement: on the riskiest users, how often both name the same first reason, and the
  overlap of their top three;
- time per 1,000 users explained, and the import time of ``shap``;
- ``predict --reasons`` against ``predict`` on the same log (logistic and boosting), both
  whole processes, one run each.

Run from the repository root::

    python benchmarks/bench_explain.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout, without installing
    sys.path.insert(0, str(ROOT))

from fakeusers import explain  # noqa: E402
from fakeusers.demo import write_demo_csv  # noqa: E402
from fakeusers.models import train  # noqa: E402
from fakeusers.reading import read_logs  # noqa: E402

RISKIEST = 200
SAMPLE = 2_000


def compare_methods(train_csv: Path, score_csv: Path) -> None:
    model = train(read_logs([train_csv]), "boosting")
    log = read_logs([score_csv])
    rng = np.random.default_rng(0)
    users = np.sort(rng.choice(log.n_users, size=min(SAMPLE, log.n_users), replace=False))
    X = explain.user_features(log, model.vocabulary, users)
    f = model.pipeline.decision_function(X)

    start = time.perf_counter()
    import shap  # noqa: F401  (timed: the import is part of the first explanation)

    t_import = time.perf_counter() - start
    start = time.perf_counter()
    shap_c = explain.contributions(model, X).to_numpy()
    t_shap = time.perf_counter() - start
    reference = explain.reference_values(model, log)
    start = time.perf_counter()
    abl_c = explain.ablation(model, X, reference.to_numpy()).to_numpy()
    t_abl = time.perf_counter() - start

    base = f - shap_c.sum(axis=1)
    f_ref = model.pipeline.decision_function(reference.to_frame().T)[0]
    abl_gap = np.abs(abl_c.sum(axis=1) - (f - f_ref))
    riskiest = np.argsort(-f)[:RISKIEST]
    same_first = np.mean([shap_c[i].argmax() == abl_c[i].argmax() for i in riskiest])
    overlap = np.mean(
        [
            len(set(np.argsort(-shap_c[i])[:3]) & set(np.argsort(-abl_c[i])[:3])) / 3
            for i in riskiest
        ]
    )
    per_k = 1000 / len(users)
    print(f"Boosting model, {len(users):,} users of {log.n_users:,} explained:")
    print(f"  TreeSHAP: off additivity by at most {np.ptp(base):.1e} log-odds")
    print(
        f"  ablation: off additivity by {abl_gap.mean():.2f} log-odds on average "
        f"(max {abl_gap.max():.2f})"
    )
    print(f"  riskiest {RISKIEST}: same first reason {same_first:.0%}, top-3 overlap {overlap:.0%}")
    print(
        f"  time per 1,000 users: TreeSHAP {t_shap * per_k:.3f} s, ablation "
        f"{t_abl * per_k:.3f} s (ratio {t_shap / t_abl:.2f}); import shap {t_import:.2f} s"
    )


def cli(*args: str) -> float:
    start = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "fakeusers", *args], capture_output=True, text=True, cwd=ROOT
    )
    if r.returncode:
        raise SystemExit(r.stderr)
    return time.perf_counter() - start


def compare_predict(tmp: Path, train_csv: Path, score_csv: Path) -> None:
    store = str(tmp / "models")
    for kind in ("logistic", "boosting"):
        cli("train", str(train_csv), "--name", kind, "--model", kind, "--models-dir", store)
        common = [str(score_csv), "--model", kind, "--models-dir", store, "--top-k", "100"]
        plain = cli("predict", *common[:1], str(tmp / "plain.csv"), *common[1:])
        worded = cli("predict", *common[:1], str(tmp / "reasons.csv"), *common[1:], "--reasons")
        users = (tmp / "plain.csv").read_bytes().count(b"\n") - 1
        print(
            f"predict {kind} on {users:,} users: plain {plain:.1f} s, --reasons {worded:.1f} s "
            f"(ratio {worded / plain:.2f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the scored log")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train_csv = write_demo_csv(tmp / "train.csv", n_events=100_000, seed=0, timestamps=True)
        score_csv = write_demo_csv(tmp / "score.csv", n_events=args.events, seed=1, timestamps=True)
        compare_methods(train_csv, score_csv)
        compare_predict(tmp, train_csv, score_csv)


if __name__ == "__main__":
    main()
