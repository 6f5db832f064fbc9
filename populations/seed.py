"""The seed sample: microdata of real (or realistic) households and persons that anchor the fit.

Checked here, each raising `SeedSampleError`: tables with no rows, a missing id column, persons in
a household the households table does not list, households without persons, and, against the
marginals, columns the seed lacks (with the closest name) and categories the seed never shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from populations.errors import SeedSampleError, closest_hint
from populations.marginals import Marginal, encode, to_polars

__all__ = ["SeedSample"]


@dataclass(frozen=True, eq=False)
class SeedSample:
    """Seed households and their persons, sorted by household.

    Attributes
    ----------
    households : one row per household; `household_id` unique.
    persons : one row per person; `household_id` refers to `households`.
    household_id : name of the id column in both tables.
    weight : per household, the sampling weight (ones if none was given).
    person_household : per person, the row of its household in `households`.
    """

    households: pl.DataFrame
    persons: pl.DataFrame
    household_id: str
    weight: np.ndarray
    person_household: np.ndarray
    weight_column: str | None = None

    @classmethod
    def from_frames(
        cls,
        households: Any,
        persons: Any,
        *,
        household_id: str = "household_id",
        weight: str | None = None,
        source: tuple[str, str] = ("seed households", "seed persons"),
    ) -> SeedSample:
        """Check and index the two seed tables."""
        hh = to_polars(households, what=source[0])
        pp = to_polars(persons, what=source[1])
        for frame, what in ((hh, source[0]), (pp, source[1])):
            if frame.height == 0:
                msg = (
                    f"{what}: the seed sample has no rows. Hint: give a sample with at least one "
                    "household and its persons."
                )
                raise SeedSampleError(msg)
            if household_id not in frame.columns:
                msg = (
                    f"{what}: no household id column `{household_id}`. "
                    f"{closest_hint(household_id, frame.columns)}"
                )
                raise SeedSampleError(msg)
        ids = hh[household_id].cast(pl.String)
        if ids.is_duplicated().any():
            row = int(ids.is_duplicated().arg_true()[0])
            msg = f"{source[0]}, row {row + 1}: household `{ids[row]}` is listed twice"
            raise SeedSampleError(msg)
        person_household = encode(pp[household_id], ids.to_list())
        if np.any(person_household < 0):
            row = int(np.flatnonzero(person_household < 0)[0])
            msg = (
                f"{source[1]}, row {row + 1}: household `{pp[household_id][row]}` is not in "
                f"{source[0]}. "
                "Hint: every person must belong to a listed household."
            )
            raise SeedSampleError(msg)
        size = np.bincount(person_household, minlength=hh.height)
        if np.any(size == 0):
            row = int(np.flatnonzero(size == 0)[0])
            msg = f"{source[0]}, row {row + 1}: household `{ids[row]}` has no persons"
            raise SeedSampleError(msg)
        if weight is None:
            w = np.ones(hh.height)
        else:
            if weight not in hh.columns:
                msg = (
                    f"{source[0]}: no weight column `{weight}`. {closest_hint(weight, hh.columns)}"
                )
                raise SeedSampleError(msg)
            w = hh[weight].cast(pl.Float64, strict=False).to_numpy()
            bad = ~np.isfinite(w) | (w <= 0)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                msg = (
                    f"{source[0]}, row {row + 1}, column `{weight}`: expected a positive weight, "
                    f"found `{hh[weight][row]}`"
                )
                raise SeedSampleError(msg)
        order = np.argsort(person_household, kind="stable")
        return cls(hh, pp[order], household_id, w, person_household[order], weight)

    def table(self, level: str) -> pl.DataFrame:
        return self.households if level == "household" else self.persons

    def codes(self, marginal: Marginal, dims: Sequence[str], what: str) -> np.ndarray:
        """Flat cell index, over `marginal`'s `dims`, of each seed row of the marginal's level.

        Raises `SeedSampleError` if a column is missing or a seed value is not a category of the
        marginal.
        """
        frame = self.table(marginal.level)
        other = self.table("person" if marginal.level == "household" else "household")
        codes = []
        shape = []
        for d in dims:
            if d not in frame.columns:
                also = (
                    f" (`{d}` is a column of the other seed table: is the marginal's level right?)"
                    if d in other.columns
                    else ""
                )
                msg = (
                    f"marginal {marginal.where()}: column `{d}` is not in the {what}{also}. "
                    f"{closest_hint(d, frame.columns)}"
                )
                raise SeedSampleError(msg)
            cats = marginal.categories[marginal.dims.index(d)]
            code = encode(frame[d], cats)
            if np.any(code < 0):
                row = int(np.flatnonzero(code < 0)[0])
                msg = (
                    f"{what}, row {row + 1}, column `{d}`: `{frame[d][row]}` is not a category of "
                    f"marginal {marginal.where()}. Hint: use the marginals' labels in the seed "
                    "sample, or merge the category."
                )
                raise SeedSampleError(msg)
            codes.append(code)
            shape.append(len(cats))
        return np.ravel_multi_index(codes, shape) if codes else np.zeros(frame.height, np.intp)
