"""Eager checks of user-supplied parameters, shared by the likelihood and the simulators."""

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from ._errors import DataError


def as_numbers(name: str, value: object) -> np.ndarray:
    """``value`` as a float array; `DataError` for non-numbers, NaN or inf."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise DataError(f"params[{name!r}]: expected numbers, got {value!r}") from err
    bad = ~np.isfinite(arr)
    if bad.any():
        where = int(np.flatnonzero(bad.reshape(-1))[0])
        raise DataError(
            f"params[{name!r}] holds a non-finite value {arr.reshape(-1)[where].item()!r} at position {where}"
        )
    return arr


def check_names(params: object, names: Sequence[str]) -> None:
    """``params`` is a mapping with exactly the parameters ``names``."""
    if not isinstance(params, Mapping):
        raise DataError(f"params must be a mapping of parameter name to value, got {type(params).__name__}")
    missing = [n for n in names if n not in params]
    if missing:
        raise DataError(f"params lacks {missing}; the model's parameters are {tuple(names)}")
    unknown = [n for n in params if n not in names]
    if unknown:
        raise DataError(f"params has unknown names {unknown}; the model's parameters are {tuple(names)}")


def series_by_label(name: str, value: pd.Series, labels: Sequence[Hashable]) -> np.ndarray:
    """A Series indexed by participant label, as an array in ``labels`` order."""
    index = set(value.index)
    absent = [p for p in labels if p not in index]
    extra = [p for p in value.index if p not in set(labels)]
    if absent or extra or not value.index.is_unique:
        raise DataError(
            f"params[{name!r}] is a Series that must be indexed by participant_id with one "
            f"value per participant: missing {absent[:5]}, unknown {extra[:5]}"
            + ("" if value.index.is_unique else ", duplicated labels")
        )
    return as_numbers(name, value.loc[list(labels)].to_numpy())
