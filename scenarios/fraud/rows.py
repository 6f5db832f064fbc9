"""A day's transactions as columns, and the vocabularies of their coded columns.

`Rows` is a dict of equal-length numpy arrays (one per column) with concatenation and selection;
the daily loop builds one for legitimate activity and one for each scheme, merges them and hands
the result to the ledger. Codes index the vocabularies below, which are the Enum categories of the
event log (`scenarios.fraud.model.SCHEMA`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from scenarios.fraud.params import FRAUD_TYPOLOGIES, LAUNDERING_TYPOLOGIES

__all__ = ["CHANNELS", "COLUMNS", "ROLES", "STAGES", "TYPES", "TYPOLOGIES", "Rows", "code"]

TYPES = ("PAYMENT", "TRANSFER", "CASH_IN", "CASH_OUT", "DEBIT", "BILL", "SALARY")
"""PaySim's five transaction types, plus bills paid by direct debit and salaries received."""
CHANNELS = ("card", "online", "mobile", "ach", "wire", "cash", "cheque")
"""How the payment was made (AMLworld's "Payment Format")."""
ROLES = ("none", "victim", "mule", "launderer", "fraudster")
STAGES = ("none", "placement", "layering", "integration")
TYPOLOGIES = ("none", *FRAUD_TYPOLOGIES, *LAUNDERING_TYPOLOGIES)


def code(vocabulary: tuple[str, ...], name: str) -> int:
    """The code of `name` in `vocabulary`."""
    return vocabulary.index(name)


COLUMNS: dict[str, Any] = {
    "t": np.int64,  # seconds since the start of the run
    "type": np.int8,
    "orig": np.int64,  # account index
    "dest": np.int64,
    "amount": np.float64,  # paid, in the origin's currency
    "channel": np.int8,
    "fraud": np.bool_,
    "laundering": np.bool_,
    "typology": np.int8,
    "stage": np.int8,
    "case": np.int64,  # -1: not part of a scheme
    "orig_role": np.int8,
    "dest_role": np.int8,
}


class Rows(dict):
    """Columns of transactions (see `COLUMNS`); every column has the same length."""

    @classmethod
    def empty(cls) -> Rows:
        return cls({name: np.empty(0, dtype=dtype) for name, dtype in COLUMNS.items()})

    @classmethod
    def make(cls, n: int, **columns: Any) -> Rows:
        """`n` rows: the given columns (arrays or scalars), the labels' defaults for the rest
        (legitimate, no typology, no scheme, no roles)."""
        rows = cls()
        for name, dtype in COLUMNS.items():
            value = columns.get(name, -1 if name == "case" else 0)
            array = np.asarray(value, dtype=dtype)
            rows[name] = np.full(n, array, dtype=dtype) if array.ndim == 0 else array
        return rows

    def __len__(self) -> int:  # type: ignore[override]
        return int(self["t"].shape[0])

    @property
    def n(self) -> int:
        return len(self)

    def take(self, index: np.ndarray) -> Rows:
        return Rows({name: values[index] for name, values in self.items()})

    @classmethod
    def concat(cls, parts: list[Mapping[str, np.ndarray]]) -> Rows:
        parts = [p for p in parts if p["t"].shape[0]]
        if not parts:
            return cls.empty()
        return cls({name: np.concatenate([p[name] for p in parts]) for name in COLUMNS})
