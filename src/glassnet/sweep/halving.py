"""Successive halving over epochs (Jamieson & Talwalkar, 2016; the inner loop of Hyperband).

With n configurations, a budget of R epochs and a reduction factor eta, rung k trains the surviving
configurations for r_k = R / eta^(s - k) epochs (k = 0..s) and keeps the best 1/eta of them, by the mean
of the metric over their seeds:

    n_0 = n,  n_(k+1) = max(1, floor(n_k / eta)),    r_0 < r_1 < ... < r_s = R

so most of the budget goes to the configurations that look best early. A promoted trial trains again from
its first epoch for the longer budget: its first r_k epochs are bit-identical to the shorter run (the same
seed draws the same shuffles and dropout masks), so every trial is a pure function of its settings, its seed
and its epoch budget, whichever worker runs it. That costs 1 / (1 - 1/eta) (1.5x for eta = 3) of halving
that continues from a checkpoint, and it needs no state kept between rungs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Halving:
    """Successive halving with reduction factor ``eta`` and at least ``min_epochs`` in the first rung."""

    eta: int = 3
    min_epochs: int = 1

    def __post_init__(self) -> None:
        for name, value, low in (("eta", self.eta, 2), ("min_epochs", self.min_epochs, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"halving {name} must be a whole number >= {low}, got {value!r}")

    def rungs(self, max_epochs: int, n_configs: int) -> list[int]:
        """Epoch budgets r_0 < ... < r_s = max_epochs: as many rungs as both the epochs (r_0 >= min_epochs)
        and the configurations (one left at the last rung) allow."""
        s = 0
        while (max_epochs // self.eta ** (s + 1) >= self.min_epochs
               and n_configs // self.eta ** (s + 1) >= 1):
            s += 1
        return [max(self.min_epochs, max_epochs // self.eta ** (s - k)) for k in range(s + 1)]

    def keep(self, n: int) -> int:
        """How many of n configurations go on to the next rung."""
        return max(1, n // self.eta)

    def describe(self) -> dict[str, int]:
        return {"eta": self.eta, "min_epochs": self.min_epochs}


def promote(scores: Mapping[int, float], keep: int) -> list[int]:
    """The ``keep`` configurations with the highest score (NaN counts as the worst), ties broken by the lower
    configuration number, so the choice never depends on the order results arrived in."""
    def rank(c: int) -> tuple[float, int]:
        score = scores[c]
        return (-score if not math.isnan(score) else math.inf, c)

    return sorted(sorted(scores, key=rank)[:keep])
