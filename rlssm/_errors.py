"""Exceptions raised by rlssm."""

from __future__ import annotations


class DataError(ValueError):
    """Invalid data or parameters.

    The message names the column, participant, row (index label of the user's
    DataFrame) and value at fault, and what was expected.
    """


class LANRangeWarning(UserWarning):
    """Decision parameters left the region a likelihood network was trained on."""


class FastResponseWarning(UserWarning):
    """Responses faster than a decision can be (guesses) hold the non-decision time
    below them in a fit without a lapse mixture (see `rlssm.Lapse`)."""
