"""Regression formulas of a hierarchical fit: one design per parameter, from ``formulae``.

A parameter's formula is written as in bambi and HSSM, e.g. ``"1 + condition + (1 +
condition | participant_id)"`` (``"a ~ ..."`` is accepted when the left side names the
parameter). [`parse_formulas`][rlssm.fitting.formulas.parse_formulas] evaluates each on
the data with the [formulae](https://bambinos.github.io/formulae/) library, the design
matrices bambi and HSSM build, and returns a
[`Regression`][rlssm.fitting.formulas.Regression] per parameter: its common
(population-level) terms with their columns and its group-specific terms with their
``Z`` matrices. Categorical factors take formulae's codings: treatment by default (the
first level is the reference, ``C(x, Treatment("placebo"))`` picks another), sum coding
with ``C(x, Sum)``. A term's design must be finite on every row (``np.log(x)`` of a
negative ``x`` is refused, naming the term and the rows), and a ``/`` in a term's name is
written ``÷`` in its variable (``I(x / 2)`` gives ``a_I(x ÷ 2)``: PyMC refuses ``/``).

[`Hierarchical`][rlssm.fitting.Hierarchical] builds the PyMC model from these and
computes the per-row values of a posterior from the same matrices, so the fit and its
posterior summaries cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._errors import DataError

__all__ = ["DEFAULT_FORMULA", "CommonTerm", "GroupTerm", "Regression", "parse_formulas", "variable_name"]

DEFAULT_FORMULA = "1 + (1 | participant_id)"
"""The formula of a parameter that is not given one: a group location and a random
intercept per participant (the parameterisation of the
[module docs][rlssm.fitting.hierarchical])."""

_LEVEL = re.compile(r"\[(.*)\]$")


@dataclass(frozen=True, eq=False)
class CommonTerm:
    """A population-level term other than the intercept.

    Attributes
    ----------
    name
        The term as formulae names it (``"condition"``, ``"x"``, ``"C(condition, Sum)"``;
        ``/`` written ``÷``, see `variable_name`); the posterior variable is
        ``<parameter>_<name>``.
    levels
        The level of each column for a categorical term (``("drug",)``), else ``None``.
    columns
        ``(rows, k)`` design columns, in the data's row order.
    """

    name: str
    levels: tuple[str, ...] | None
    columns: np.ndarray


@dataclass(frozen=True, eq=False)
class GroupTerm:
    """A group-specific term ``(expr | factor)`` of one expression column set.

    Attributes
    ----------
    name
        The term as formulae names it (``"1|participant_id"``, ``"condition|participant_id"``;
        ``/`` written ``÷``, see `variable_name`); the posterior variable is ``<parameter>_<name>``, its spread ``<parameter>_<name>_sigma``.
    factor
        The grouping factor (``"participant_id"``).
    groups
        The factor's levels, in the order of the effects.
    levels
        The label of each expression column when there is more than one or it is
        categorical (``("drug",)``), else ``None``.
    design
        ``(rows, groups * k)``: the effect of group ``g``, column ``c`` multiplies column
        ``g * k + c`` (formulae's ``Z``).
    """

    name: str
    factor: str
    groups: tuple[str, ...]
    levels: tuple[str, ...] | None
    design: np.ndarray

    @property
    def k(self) -> int:
        """Number of expression columns (effects per group)."""
        return self.design.shape[1] // len(self.groups)


@dataclass(frozen=True, eq=False)
class Regression:
    """The design of one parameter.

    Attributes
    ----------
    param
        The parameter.
    formula
        Its right-hand side, as given.
    intercept
        Whether the formula has a population intercept.
    common
        The population-level terms other than the intercept.
    group
        The group-specific terms.
    """

    param: str
    formula: str
    intercept: bool
    common: tuple[CommonTerm, ...]
    group: tuple[GroupTerm, ...]

    @property
    def is_default(self) -> bool:
        """Whether this is [`DEFAULT_FORMULA`][rlssm.fitting.formulas.DEFAULT_FORMULA]."""
        return (
            self.intercept
            and not self.common
            and len(self.group) == 1
            and self.group[0].name == "1|participant_id"
        )


def _levels(labels: Sequence[str]) -> tuple[str, ...] | None:
    """The level names of categorical column labels (``"condition[drug]"`` -> ``"drug"``)."""
    found = [_LEVEL.search(label) for label in labels]
    if all(m is not None for m in found):
        return tuple(m.group(1) for m in found if m is not None)
    return None


def _rhs(param: str, formula: object) -> str:
    if not isinstance(formula, str) or not formula.strip():
        raise ValueError(f"formulas[{param!r}] must be a formula string such as {DEFAULT_FORMULA!r}, got {formula!r}")
    if "~" in formula:
        lhs, _, rhs = formula.partition("~")
        if lhs.strip() != param:
            raise ValueError(
                f"formulas[{param!r}] = {formula!r}: the left side must name the parameter "
                f"({param!r}) or be left out"
            )
        return rhs.strip()
    return formula.strip()


def _check_columns(param: str, rhs: str, data: pd.DataFrame) -> None:
    """`DataError` for a column the formula names that is absent or has missing values."""
    import formulae

    try:
        description = formulae.model_description(rhs)
    except Exception as err:  # noqa: BLE001 - formulae raises several parse errors
        raise ValueError(f"formulas[{param!r}] = {rhs!r} is not a formula: {err}") from err
    names = sorted(description.var_names)
    for name in names:
        if name in data.columns:
            column = data[name]
            missing = column.isna().to_numpy()
            if missing.any():
                first = int(np.flatnonzero(missing)[0])
                pid = data["participant_id"].iloc[first] if "participant_id" in data.columns else "?"
                raise DataError(
                    f"column {name!r} (in the formula of {param!r}), participant {pid!r}, row {first}: "
                    f"value missing ({int(missing.sum())} rows); covariates need a value on every "
                    "row, missed trials included"
                )
            if not (pd.api.types.is_numeric_dtype(column) or isinstance(column.dtype, pd.CategoricalDtype)
                    or pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)
                    or pd.api.types.is_bool_dtype(column)):
                raise DataError(
                    f"column {name!r} (in the formula of {param!r}) has dtype {column.dtype}; "
                    "expected numbers or categories"
                )
            if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
                values = column.to_numpy(dtype=float)
                bad = ~np.isfinite(values)
                if bad.any():
                    first = int(np.flatnonzero(bad)[0])
                    raise DataError(
                        f"column {name!r} (in the formula of {param!r}), row {first}: value "
                        f"{values[first]!r}; expected a finite number"
                    )


def variable_name(term: str) -> str:
    """A formula term as PyMC can name a variable after it.

    PyMC refuses a ``/`` in a variable name (it separates nested models), and formulae
    keeps the one of ``I(x / 2)`` in the term's name: it becomes ``÷`` (``I(x ÷ 2)``, so
    the posterior variable is ``a_I(x ÷ 2)``). Every other term keeps formulae's name.
    """
    return term.replace("/", "÷")


def _check_finite(param: str, rhs: str, term: str, matrix: np.ndarray, data: pd.DataFrame) -> None:
    """``DataError`` naming the term and rows where a design matrix is not finite: a
    transform of finite columns (``np.log(x)`` of a negative ``x``, ``scale`` of a
    constant) would otherwise give the likelihood NaN and be sampled anyway."""
    bad = ~np.isfinite(matrix).all(axis=1)
    if not bad.any():
        return
    rows = np.flatnonzero(bad)
    first = int(rows[0])
    shown = ", ".join(str(int(r)) for r in rows[:10]) + (", ..." if rows.size > 10 else "")
    pid = data["participant_id"].iloc[first] if "participant_id" in data.columns else "?"
    pid = pid.item() if isinstance(pid, np.generic) else pid
    value = float(matrix[first][~np.isfinite(matrix[first])][0])
    raise DataError(
        f"formulas[{param!r}] = {rhs!r}: term {term!r} is not finite on {rows.size} of {len(matrix)} rows "
        f"(rows {shown}; participant {pid!r}, row {first}: {value!r}); transform the covariate so that "
        "every row has a finite value"
    )


def _evaluate(param: str, rhs: str, data: pd.DataFrame) -> Regression:
    import formulae

    _check_columns(param, rhs, data)
    try:
        # numpy's warnings (log of a negative number, 0 / 0) would name no term or row:
        # `_check_finite` below does.
        with np.errstate(all="ignore"):
            dm = formulae.design_matrices(rhs, data.reset_index(drop=True), na_action="error")
    except Exception as err:  # noqa: BLE001 - name the absent columns where that is the cause
        import formulae as _f

        wanted = sorted(_f.model_description(rhs).var_names)
        absent = [n for n in wanted if n not in data.columns]
        if absent:
            raise DataError(
                f"formulas[{param!r}] = {rhs!r} names {absent}, which are not columns of the data "
                f"(columns: {list(data.columns)})"
            ) from err
        raise ValueError(f"formulas[{param!r}] = {rhs!r} could not be evaluated: {err}") from err
    common = dm.common
    intercept = False
    terms: list[CommonTerm] = []
    if common is not None:
        matrix = np.asarray(common).astype(float)
        for name, term in common.terms.items():
            cols = matrix[:, common.slices[name]]
            _check_finite(param, rhs, name, cols, data)
            if name == "Intercept":
                intercept = True
                continue
            terms.append(CommonTerm(variable_name(name), _levels(term.labels), cols))
    groups: list[GroupTerm] = []
    if dm.group is not None:
        for name, term in dm.group.terms.items():
            factor = name.split("|", 1)[1]
            if factor not in data.columns:
                raise ValueError(
                    f"formulas[{param!r}] = {rhs!r}: the grouping factor {factor!r} must be one "
                    "column of the data"
                )
            z = dm.group[name]
            design = np.asarray(z.toarray() if hasattr(z, "toarray") else z, dtype=float)
            _check_finite(param, rhs, name, design, data)
            level_names = tuple(str(g) for g in term.groups)
            k = design.shape[1] // len(level_names)
            expr = name.split("|", 1)[0]
            labels = [lab.split("|", 1)[0] for lab in term.labels[:k]]
            levels = _levels(labels) if expr != "1" else None
            if levels is None and k > 1:
                levels = tuple(labels)
            groups.append(GroupTerm(variable_name(name), factor, level_names, levels, design))
    if not intercept and not terms and not groups:
        raise ValueError(f"formulas[{param!r}] = {rhs!r} has no terms")
    return Regression(param, rhs, intercept, tuple(terms), tuple(groups))


def parse_formulas(
    formulas: Mapping[str, str] | None, data: pd.DataFrame, names: Sequence[str]
) -> dict[str, Regression]:
    """Evaluate every parameter's formula on ``data``.

    Parameters
    ----------
    formulas
        ``parameter -> formula``; parameters not named keep
        [`DEFAULT_FORMULA`][rlssm.fitting.formulas.DEFAULT_FORMULA].
    data
        The data, in the row order of the likelihood.
    names
        The parameters to design.

    Returns
    -------
    dict
        ``parameter -> Regression`` for every parameter ``formulas`` names (in the
        order of ``names``); the others keep the default.

    Raises
    ------
    ValueError
        A formula for an unknown parameter, a formula that does not parse, a grouping
        factor that is not a column.
    DataError
        A column the formula names that is absent, has a missing or non-finite value, or
        is neither numeric nor categorical; a term whose design columns are not finite on
        some rows (``np.log(x)`` with ``x <= 0``, ``scale`` of a constant), naming the
        term and the rows.
    """
    formulas = dict(formulas or {})
    unknown = [k for k in formulas if k not in names]
    if unknown:
        raise ValueError(f"formulas: {unknown} are not parameters of this model {tuple(names)}")
    return {name: _evaluate(name, _rhs(name, formulas[name]), data) for name in names if name in formulas}
