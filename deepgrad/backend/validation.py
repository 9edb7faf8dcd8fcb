"""Argument checks for constructors and functions, with the project's one message template.

Every public entry point validates its arguments up front (STYLE 3.5). The checks that recur
everywhere (a positive int, a number >= 0, a probability, one of a few strings, a flag) live
here once, so every layer words them the same way::

    "<owner>: <name> must be <what> (got <value>); <how to fix>."

A value of the wrong *type* (a float or a bool where an int is needed, a string where a
number is) raises ``TypeError``; a value of the right type out of range raises ``ValueError``.
``bool`` is an ``int`` subclass in Python, but ``True`` is never accepted as a count or a
number: it is almost always a mistake. NumPy integer and floating scalars are accepted
(``numbers.Integral`` / ``numbers.Real``).

Each check returns the value, converted (``int(value)``, ``float(value)``), so a caller may write
``self.size = positive_int(size, "size", "Linear")``.

Example:
    >>> positive_int(3, "in_features", "Linear")
    3
    >>> positive_int(0, "in_features", "Linear")
    Traceback (most recent call last):
    ...
    ValueError: Linear: in_features must be a positive int (got 0).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "boolean",
    "in_interval",
    "int_at_least",
    "message",
    "non_negative_float",
    "non_negative_int",
    "one_of",
    "positive_float",
    "positive_int",
    "probability",
]


def message(owner: str, name: str, what: str, got: str, fix: str | None = None) -> str:
    """The message template: ``"<owner>: <name> must be <what> (got <got>); <fix>."``.

    Args:
        owner: the class or function being called (``"Linear"``, ``"F.dropout"``).
        name: the argument (``"in_features"``, ``"betas[1]"``).
        what: what it must be (``"a positive int"``, ``">= 0"``, ``"in [0, 1)"``).
        got: the offending value, already formatted.
        fix: how to fix it, or None when the requirement says it all.

    Example:
        >>> message("SGD", "lr", ">= 0", "-1", "pass a learning rate such as 0.01")
        'SGD: lr must be >= 0 (got -1); pass a learning rate such as 0.01.'
    """
    text = f"{owner}: {name} must be {what} (got {got})"
    return f"{text}; {fix}." if fix else f"{text}."


def _shown(value: Any) -> str:
    """``repr`` of the value; a NumPy scalar shows as the number (``2``, not ``np.int64(2)``)."""
    if (
        type(value) not in (int, float)
        and isinstance(value, numbers.Number)
        and hasattr(value, "item")
    ):
        return repr(value.item())
    return repr(value)


def _typed(value: Any) -> str:
    """``float 2.5``: the type's name first, for type errors (``2`` and ``'2'`` look alike)."""
    return f"{type(value).__name__} {value!r}"


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# -- ints ---------------------------------------------------------------------------------------
def int_at_least(value: Any, minimum: int, name: str, owner: str, *, fix: str | None = None) -> int:
    """``value`` as an int, checked to be ``>= minimum``.

    Raises:
        TypeError: ``value`` is not an int (bools and floats such as 2.0 included).
        ValueError: ``value < minimum``.

    Example:
        >>> int_at_least(-1, -1, "last_epoch", "StepLR")
        -1
    """
    what = {1: "a positive int", 0: "a non-negative int"}.get(minimum, f"an int >= {minimum}")
    if not _is_int(value):
        raise TypeError(message(owner, name, what, _typed(value), fix))
    if value < minimum:
        raise ValueError(message(owner, name, what, _shown(value), fix))
    return int(value)


def positive_int(value: Any, name: str, owner: str, *, fix: str | None = None) -> int:
    """``value`` as an int >= 1 (a size, a count, a number of steps); see :func:`int_at_least`."""
    return int_at_least(value, 1, name, owner, fix=fix)


def non_negative_int(value: Any, name: str, owner: str, *, fix: str | None = None) -> int:
    """``value`` as an int >= 0 (a padding, a patience); see :func:`int_at_least`."""
    return int_at_least(value, 0, name, owner, fix=fix)


# -- real numbers -------------------------------------------------------------------------------
def _bound(x: float) -> str:
    """1.0 -> '1', 0.5 -> '0.5', inf -> 'inf': bounds read as they are written in math."""
    return str(int(x)) if math.isfinite(x) and x == int(x) else str(x)


def in_interval(
    value: Any,
    name: str,
    owner: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    include_low: bool = True,
    include_high: bool = True,
    fix: str | None = None,
) -> float:
    """``value`` as a float in the interval from ``low`` to ``high``; NaN is always out.

    The requirement reads as an interval, ``in [0, 1)``, or as one comparison when only one
    side is bounded: ``>= 0``, ``> 0``.

    Raises:
        TypeError: ``value`` is not a real number (a bool, a string, None).
        ValueError: ``value`` is outside the interval or NaN.

    Example:
        >>> in_interval(0.0, "start_factor", "LinearLR", low=0, high=1, include_low=False)
        Traceback (most recent call last):
        ...
        ValueError: LinearLR: start_factor must be in (0, 1] (got 0.0).
    """
    if not _is_number(value):
        raise TypeError(message(owner, name, "a number", _typed(value), fix))
    above = value >= low if include_low else value > low
    below = value <= high if include_high else value < high
    if not (above and below):  # NaN fails every comparison, so it lands here too
        if high == math.inf:
            what = f"{'>=' if include_low else '>'} {_bound(low)}"
        elif low == -math.inf:
            what = f"{'<=' if include_high else '<'} {_bound(high)}"
        else:
            left, right = "[" if include_low else "(", "]" if include_high else ")"
            what = f"in {left}{_bound(low)}, {_bound(high)}{right}"
        raise ValueError(message(owner, name, what, _shown(value), fix))
    return float(value)


def positive_float(value: Any, name: str, owner: str, *, fix: str | None = None) -> float:
    """``value`` as a float > 0 (a scale, an eps, a temperature); see :func:`in_interval`."""
    return in_interval(value, name, owner, low=0.0, include_low=False, fix=fix)


def non_negative_float(value: Any, name: str, owner: str, *, fix: str | None = None) -> float:
    """``value`` as a float >= 0 (a learning rate, a weight decay, a noise level)."""
    return in_interval(value, name, owner, low=0.0, fix=fix)


def probability(
    value: Any, name: str, owner: str, *, closed: bool = False, fix: str | None = None
) -> float:
    """``value`` as a float in [0, 1), or in [0, 1] when ``closed`` (a dropout rate, a decay rate).

    Example:
        >>> probability(0.9, "betas[0]", "Adam")
        0.9
    """
    return in_interval(value, name, owner, low=0.0, high=1.0, include_high=closed, fix=fix)


# -- choices and flags --------------------------------------------------------------------------
def one_of(
    value: T, allowed: Collection[Any], name: str, owner: str, *, fix: str | None = None
) -> T:
    """``value`` itself, checked to be one of ``allowed`` (unknown options are ``ValueError``).

    The message lists the choices: ``'cos' or 'linear'`` for two, else ``one of 'a', 'b', 'c'``.

    Example:
        >>> one_of("avg", ("mean", "sum", "none"), "reduction", "mse_loss")
        Traceback (most recent call last):
        ...
        ValueError: mse_loss: reduction must be one of 'mean', 'sum', 'none' (got 'avg').
    """
    if isinstance(value, bool):  # True == 1, so only a listed True or False counts
        known = any(choice is value for choice in allowed)
    else:
        try:
            known = value in allowed
        except TypeError:  # an unhashable value looked up in a set or dict
            known = False
    if not known:
        choices = [repr(choice) for choice in allowed]
        what = " or ".join(choices) if len(choices) == 2 else f"one of {', '.join(choices)}"
        raise ValueError(message(owner, name, what, _shown(value), fix))
    return value


def boolean(value: Any, name: str, owner: str, *, fix: str | None = None) -> bool:
    """``value`` checked to be ``True`` or ``False`` (not 0, 1 or None); TypeError otherwise."""
    if not isinstance(value, bool):
        raise TypeError(message(owner, name, "True or False", _shown(value), fix))
    return value
