"""Honest stopping for iterative fitting: converged, stalled, stopped at the cap, or infeasible.

Shared by table IPF (`ipf.py`) and household list balancing (`households.py`), so both report the
same statuses on the same rule. A peer library reports "converged" while a marginal is still off
by 220%; here a fit is converged only when a final exact check of every marginal is within `tol`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

__all__ = ["ConvergenceRecord", "Status"]


class Status(StrEnum):
    """How an iterative fit stopped."""

    CONVERGED = "converged"
    """Every marginal is within the tolerance (checked on the final table)."""
    STALLED = "stalled"
    """The error stopped falling while still above the tolerance."""
    MAX_ITER = "max_iter"
    """The iteration cap was reached while the error was still falling."""
    INFEASIBLE = "infeasible"
    """No table can meet the marginals (contradicting totals, or a target with no support)."""


@dataclass
class ConvergenceRecord:
    """Max relative error per marginal per iteration, and the rule that ends the loop.

    Parameters
    ----------
    names : marginal names, one column of the record each.
    tol : target max relative error.
    max_iter : iteration cap.
    stall_window, stall_ratio : stalled when the max error after an iteration is above
        ``stall_ratio`` times the max error ``stall_window`` iterations before.
    """

    names: tuple[str, ...]
    tol: float
    max_iter: int
    stall_window: int = 25
    stall_ratio: float = 0.999
    rows: list[np.ndarray] = field(default_factory=list)

    def add(self, errors: np.ndarray) -> None:
        """Record one iteration's max relative error per marginal."""
        self.rows.append(np.array(errors, dtype=float))

    @property
    def n_iter(self) -> int:
        return len(self.rows)

    def below_tol(self) -> bool:
        """Whether the last iteration's errors were all within the tolerance."""
        return bool(self.rows) and float(np.max(self.rows[-1])) <= self.tol

    def stalled(self) -> bool:
        """Whether the error has stopped falling over the last `stall_window` iterations."""
        if len(self.rows) <= self.stall_window:
            return False
        now = float(np.max(self.rows[-1]))
        before = float(np.max(self.rows[-1 - self.stall_window]))
        return now > self.tol and now > self.stall_ratio * before

    def status(self, final_errors: np.ndarray, *, infeasible: bool) -> Status:
        """Status from the final, exact errors (never from the cheap in-loop check alone)."""
        if float(np.max(final_errors, initial=0.0)) <= self.tol:
            return Status.CONVERGED
        if infeasible:
            return Status.INFEASIBLE
        if self.n_iter >= self.max_iter and not self.stalled():
            return Status.MAX_ITER
        return Status.STALLED

    def to_dict(self) -> dict[str, list[float]]:
        """The record as ``{marginal: [error per iteration]}``, for JSON reports."""
        table = np.vstack(self.rows) if self.rows else np.zeros((0, len(self.names)))
        return {name: table[:, j].tolist() for j, name in enumerate(self.names)}
