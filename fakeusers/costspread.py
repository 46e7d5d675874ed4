"""How much the realised cost of a decision can differ from the expected cost, by chance.

With calibrated probabilities each flagged user is real (costing M) with probability
``1 - p`` and each user let through is fake (costing F) with probability ``p``, all
independently: the realised cost is ``M * A + F * B`` with ``A`` and ``B`` two
Poisson-binomial counts. :func:`realised_cost_interval` gives its central interval: each count
exactly (from its characteristic function, by FFT) when its variance is small, as a normal
when it is large, a Cornish-Fisher correction when both are normal.
:func:`fakeusers.decisions.cost_interval` is the checked, public way in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["realised_cost_interval"]

# A side (flagged or let-through users) whose outcome count has at least this variance is
# treated as normal: its skewness is then at most 1/sqrt(50) and moves a 5% quantile by
# under 0.05 standard deviations. Below it the count's distribution is computed exactly.
_NORMAL_VARIANCE = 50.0
# Users whose Bernoulli probability (after folding to <= 0.5) is below this enter the exact
# distribution through the power sums of a series, the others one by one.
_SERIES_BELOW = 0.05
_SERIES_TERMS = 14


def realised_cost_interval(
    p: np.ndarray, flags: np.ndarray, m: float, f: float, level: float
) -> tuple[float, float]:
    """The central ``level`` interval of the realised cost of checked flags and costs.

    See :func:`fakeusers.decisions.cost_interval`, which checks its arguments and calls this.
    """
    # A flagged user costs M when real (probability 1 - p); one let through costs F when fake.
    counts = [_Count.of(1.0 - p[flags], m), _Count.of(p[~flags], f)]
    lowest = sum(count.weight * count.lowest for count in counts)
    highest = sum(count.weight * count.highest for count in counts)
    sides = [count for count in counts if count.weight > 0 and count.variance > 0]
    if not sides:
        return float(lowest), float(lowest)
    fixed = sum(count.weight * count.mean for count in counts if count not in sides)
    tails = ((1 - level) / 2, (1 + level) / 2)
    exact = [side for side in sides if side.pmf is not None]
    normal = [side for side in sides if side.pmf is None]
    if not exact:
        low, high = _cornish_fisher(normal, tails)
    elif not normal:
        low, high = _lattice_quantiles(exact, tails)
    else:
        low, high = _mixed_quantiles(exact[0], normal[0], tails)
    return (
        float(min(max(fixed + low, lowest), highest)),
        float(min(max(fixed + high, lowest), highest)),
    )


@dataclass(frozen=True, eq=False)
class _Count:
    """How many of some independent Bernoulli(r) events happen; each costs ``weight``.

    ``pmf`` is the exact distribution when the variance is small (else None: the count is
    then treated as normal): ``pmf[i]`` is the probability of the count ``values()[i]``.
    """

    weight: float
    mean: float
    variance: float
    third: float  # third cumulant
    lowest: int  # events certain to happen (r = 1)
    highest: int  # events that can happen (r > 0)
    pmf: np.ndarray | None
    offset: int  # the count at pmf[0]

    @classmethod
    def of(cls, r: np.ndarray, weight: float) -> _Count:
        var = r * (1.0 - r)
        variance = float(var.sum())
        mean = float(r.sum())
        pmf, offset = None, 0
        if 0 < variance < _NORMAL_VARIANCE:
            pmf, offset = _exact_pmf(r, variance)
        return cls(
            weight=float(weight),
            mean=mean,
            variance=variance,
            third=float((var * (1.0 - 2.0 * r)).sum()),
            lowest=int(np.count_nonzero(r == 1.0)),
            highest=int(np.count_nonzero(r)),
            pmf=pmf,
            offset=offset,
        )

    def values(self) -> np.ndarray:
        """The count of each entry of :attr:`pmf`."""
        size = self.pmf.size
        return self.offset + np.fft.fftfreq(size, 1.0 / size)


def _exact_pmf(r: np.ndarray, variance: float) -> tuple[np.ndarray, int]:
    """The distribution of a sum of Bernoulli(r), from its characteristic function by FFT.

    Events with ``r > 0.5`` are folded (``1 - Bernoulli(1 - r)``), so the count is
    ``offset + D`` with ``D`` a difference of two sums of Bernoullis of probability at most
    0.5, whose means are at most twice the variance: ``D`` lives near 0, in a short FFT.
    """
    folded = r > 0.5
    up = r[~folded & (r > 0)]  # D gains one when these happen
    down = 1.0 - r[folded & (r < 1)]  # and loses one when these happen
    # D's support beyond 40 sd (and 40 more) from its mean carries nothing measurable.
    half = float(up.sum() + down.sum()) + 40 * math.sqrt(variance) + 40
    size = 1 << max(6, math.ceil(math.log2(2 * half)))
    z = np.exp(-2j * np.pi * np.arange(size) / size)
    log_cf = _log_cf(up, z) + np.conj(_log_cf(down, z))
    pmf = np.clip(np.fft.ifft(np.exp(log_cf)).real, 0.0, None)
    return pmf / pmf.sum(), int(np.count_nonzero(folded))


def _log_cf(r: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``sum(log(1 - r + r z))`` at the points ``z`` of the unit circle."""
    big = r[r >= _SERIES_BELOW]
    small = r[r < _SERIES_BELOW]
    out = np.zeros(z.size, dtype=np.complex128)
    with np.errstate(divide="ignore"):  # r = 0.5 at z = -1: a factor of zero, log -inf
        for chunk in np.array_split(big, max(1, big.size // 256)):
            out += np.log1p(np.multiply.outer(chunk, z - 1)).sum(axis=0)
    # log(1 + r w) = sum_j (-1)^(j+1) (r w)^j / j with |r w| <= 2 r < 0.1: the power sums
    # of the small r give every user exactly to 1e-14, in a pass over them per term.
    power = np.ones_like(small)
    w = z - 1
    for j in range(1, _SERIES_TERMS + 1):
        power = power * small
        out += (-1) ** (j + 1) * power.sum() * w**j / j
    return out


def _cornish_fisher(sides: list[_Count], tails: tuple[float, float]) -> tuple[float, float]:
    from statistics import NormalDist

    mean = sum(s.weight * s.mean for s in sides)
    variance = sum(s.weight**2 * s.variance for s in sides)
    skew = sum(s.weight**3 * s.third for s in sides) / variance**1.5
    sd = math.sqrt(variance)
    quantiles = []
    for q in tails:
        z = NormalDist().inv_cdf(q)
        quantiles.append(mean + sd * (z + (z * z - 1) * skew / 6))
    return quantiles[0], quantiles[1]


def _lattice_quantiles(sides: list[_Count], tails: tuple[float, float]) -> tuple[float, float]:
    values = np.zeros(1)
    probs = np.ones(1)
    for side in sides:
        keep = side.pmf > 1e-15
        values = np.add.outer(values, side.weight * side.values()[keep]).ravel()
        probs = np.multiply.outer(probs, side.pmf[keep]).ravel()
    order = np.argsort(values, kind="stable")
    cdf = np.cumsum(probs[order])
    cdf /= cdf[-1]
    # Discrete quantiles: the lowest value whose CDF reaches q (1e-9 absorbs rounding).
    at = [int(np.searchsorted(cdf, q - 1e-9)) for q in tails]
    return float(values[order][at[0]]), float(values[order][at[1]])


def _mixed_quantiles(
    exact: _Count, normal: _Count, tails: tuple[float, float]
) -> tuple[float, float]:
    erfc = np.frompyfunc(math.erfc, 1, 1)
    keep = exact.pmf > 1e-15
    shift = exact.weight * exact.values()[keep] + normal.weight * normal.mean
    probs = exact.pmf[keep] / exact.pmf[keep].sum()
    sd = normal.weight * math.sqrt(normal.variance)

    def cdf(x: float) -> float:
        return float(probs @ (0.5 * erfc((shift - x) / (sd * math.sqrt(2)))).astype(float))

    out = []
    for q in tails:
        lo, hi = shift.min() - 10 * sd, shift.max() + 10 * sd
        for _ in range(60):  # bisection: the bracket shrinks 2**60-fold
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
        out.append((lo + hi) / 2)
    return out[0], out[1]
