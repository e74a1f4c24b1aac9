"""Case volume of a series alone: what its dependence bound buys and costs.

    .venv/bin/python benchmarks/lone_volume.py [--reps 100] [--seed 11]

A run of fewer than 8 series tests each series at an upper bound of its own serial
dependence (`tipdrift.dependence.lone_floor`); the scenario benchmark measures that for
case mixes only. Here: monthly case totals, 120 months, mean 30 (100 for one row), from
tipdrift's own model families for volume, parametrised here (wandering rows: Poisson counts
around a log-normal AR(1) rate; the others gamma-Poisson or Poisson around a constant rate
with or without one step), so tipdrift's null law is the right one: a best case. Each
series is fitted alone as `tipdrift drift` fits one unit's volume, once at the defaults
(the bound) and once with `dependence_rho=0` (each series' own estimate). Per row: the
share of series with any volume shift, the share with one within 3 months of the true
step, and the median dependence in force.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from tipdrift.detect import fit_series
from tipdrift.testing.scenarios import ar1_path

Draw = Callable[[np.random.Generator], tuple[np.ndarray, int | None]]


def gamma_poisson(rng: np.random.Generator, mean: np.ndarray, phi: float) -> np.ndarray:
    """Counts with the given means and variance phi x mean (Poisson at phi 1)."""
    if phi <= 1.0:
        return rng.poisson(mean)
    shape = mean / (phi - 1.0)
    return rng.poisson(rng.gamma(shape, mean / shape))


def wander(rng: np.random.Generator, mean: float, sd: float, T: int = 120, rho: float = 0.9) -> np.ndarray:
    """No change: a rate whose log wanders as a stationary AR(1) (innovation sd `sd`)."""
    x = ar1_path(rng, T, 1, rho, sd)[:, 0]
    return rng.poisson(mean * np.exp(x - sd * sd / (1.0 - rho * rho) / 2.0))  # the stationary variance: mean rate `mean`


def step(rng: np.random.Generator, ratio: float, phi: float, mean: float = 30.0, T: int = 120) -> tuple[np.ndarray, int]:
    """One step in the rate, by `ratio`, at a month drawn from 20-100."""
    tau = int(rng.integers(20, 101))
    return gamma_poisson(rng, np.where(np.arange(T) < tau, mean, mean * ratio), phi), tau


WORLDS: dict[str, Draw] = {
    "no change, AR(1) log rate rho 0.9, sd 0.1, 30 a month": lambda r: (wander(r, 30.0, 0.1), None),
    "no change, AR(1) log rate rho 0.9, sd 0.05, 100 a month": lambda r: (wander(r, 100.0, 0.05), None),
    "no change, independent, phi 1.5": lambda r: (gamma_poisson(r, np.full(120, 30.0), 1.5), None),
    "step x1.3, phi 1.5": lambda r: step(r, 1.3, 1.5),
    "step x1.5, phi 1.5": lambda r: step(r, 1.5, 1.5),
    "step x1.3, Poisson": lambda r: step(r, 1.3, 1.0),
}


def measure(draw: Draw, index: int, reps: int, seed: int, **settings: float) -> tuple[float, float, float]:
    """(share of series with a shift, share with one within 3 months of the truth, median
    dependence in force)."""
    alarmed = found = 0
    rhos = []
    for r in range(reps):
        y, tau = draw(np.random.default_rng([seed, index, r]))
        fit = fit_series(y.astype(float)[:, None], "volume", key=f"v{r}", seed=0, **settings)
        alarmed += bool(fit.shifts)
        found += tau is not None and any(abs(s.index - tau) <= 3 for s in fit.shifts)
        rhos.append(fit.rho)
    return alarmed / reps, found / reps, float(np.median(rhos))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    print("| world | alone (the bound): with a shift / found | own estimate: with a shift / found |")
    print("|---|---|---|")
    for i, (name, draw) in enumerate(WORLDS.items()):
        bound = measure(draw, i, args.reps, args.seed)
        own = measure(draw, i, args.reps, args.seed, dependence_rho=0.0)
        cells = [(f"{a:.0%} / {f:.0%}" if "step" in name else f"{a:.0%}") + f" (rho {r:.2f})" for a, f, r in (bound, own)]
        print(f"| {name} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
