"""The exceptions synthworld raises for a user's mistake.

Every message names what it is about (file, row, column or key), what was expected and what was
found, and ends with a ``Hint:`` where a fix is known. The command line prints the message alone
and exits with code 2; anything else that escapes is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "MarginalsError",
    "NotFittedError",
    "OutputExistsError",
    "SeedSampleError",
    "SynthworldError",
    "closest_hint",
]


class SynthworldError(Exception):
    """Base class of every error caused by a user's input or request."""


class MarginalsError(SynthworldError, ValueError):
    """Target marginals that are malformed or contradict each other."""


class SeedSampleError(SynthworldError, ValueError):
    """A seed sample of microdata that cannot anchor the fit."""


class ConfigError(SynthworldError, ValueError):
    """A configuration file or parameter that cannot be used."""


class OutputExistsError(SynthworldError, FileExistsError):
    """An output folder that already holds results."""


class NotFittedError(SynthworldError, AttributeError):
    """A fitted attribute was read before ``fit`` was called."""


def closest_hint(name: str, choices: Iterable[str]) -> str:
    """Return a ``Hint:`` sentence naming the choice closest to `name`, or listing the choices.

    >>> closest_hint("sexx", ["age", "sex"])
    'Hint: did you mean `sex`?'
    """
    choices = sorted(choices)
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    if match:
        return f"Hint: did you mean `{match[0]}`?"
    return "Hint: expected one of " + ", ".join(f"`{c}`" for c in choices) + "."
