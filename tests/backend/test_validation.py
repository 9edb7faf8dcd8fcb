"""deepgrad.backend.validation: each check's accepted values, exception types and exact messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepgrad.backend import validation as V


@pytest.mark.parametrize(
    "check,value,expected",
    [
        (V.positive_int, 3, 3),
        (V.positive_int, np.int64(2), 2),
        (V.non_negative_int, 0, 0),
        (lambda v, n, o: V.int_at_least(v, -1, n, o), -1, -1),
        (V.positive_float, 1e-8, 1e-8),
        (V.positive_float, 2, 2.0),
        (V.positive_float, np.float32(0.5), 0.5),
        (V.positive_float, math.inf, math.inf),
        (V.non_negative_float, 0, 0.0),
        (V.probability, 0.0, 0.0),
        (V.probability, 0.999, 0.999),
        (lambda v, n, o: V.probability(v, n, o, closed=True), 1, 1.0),
        (lambda v, n, o: V.in_interval(v, n, o, low=0, high=1, include_low=False), 1.0, 1.0),
        (lambda v, n, o: V.one_of(v, ("mean", "sum"), n, o), "sum", "sum"),
        (lambda v, n, o: V.one_of(v, (True, "auto"), n, o), True, True),
        (V.boolean, False, False),
    ],
)
def test_accepted_values_come_back_converted(check, value, expected):
    got = check(value, "x", "Owner")
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "check,value,error,text",
    [
        (V.positive_int, 0, ValueError, "Owner: x must be a positive int (got 0)."),
        (V.positive_int, -3, ValueError, "Owner: x must be a positive int (got -3)."),
        (V.positive_int, np.int32(0), ValueError, "Owner: x must be a positive int (got 0)."),
        (V.positive_int, True, TypeError, "Owner: x must be a positive int (got bool True)."),
        (V.positive_int, 2.0, TypeError, "Owner: x must be a positive int (got float 2.0)."),
        (V.positive_int, "3", TypeError, "Owner: x must be a positive int (got str '3')."),
        (V.positive_int, None, TypeError, "Owner: x must be a positive int (got NoneType None)."),
        (V.non_negative_int, -1, ValueError, "Owner: x must be a non-negative int (got -1)."),
        (
            V.non_negative_int,
            False,
            TypeError,
            "Owner: x must be a non-negative int (got bool False).",
        ),
        (
            lambda v, n, o: V.int_at_least(v, 2, n, o),
            1,
            ValueError,
            "Owner: x must be an int >= 2 (got 1).",
        ),
        (
            lambda v, n, o: V.int_at_least(v, -1, n, o),
            -2,
            ValueError,
            "Owner: x must be an int >= -1 (got -2).",
        ),
        (V.positive_float, 0.0, ValueError, "Owner: x must be > 0 (got 0.0)."),
        (V.positive_float, -1, ValueError, "Owner: x must be > 0 (got -1)."),
        (V.positive_float, math.nan, ValueError, "Owner: x must be > 0 (got nan)."),
        (V.positive_float, np.float64(-0.5), ValueError, "Owner: x must be > 0 (got -0.5)."),
        (V.positive_float, True, TypeError, "Owner: x must be a number (got bool True)."),
        (V.positive_float, "0.1", TypeError, "Owner: x must be a number (got str '0.1')."),
        (V.positive_float, 1j, TypeError, "Owner: x must be a number (got complex 1j)."),
        (V.non_negative_float, -0.001, ValueError, "Owner: x must be >= 0 (got -0.001)."),
        (V.non_negative_float, None, TypeError, "Owner: x must be a number (got NoneType None)."),
        (V.probability, 1.0, ValueError, "Owner: x must be in [0, 1) (got 1.0)."),
        (V.probability, -0.1, ValueError, "Owner: x must be in [0, 1) (got -0.1)."),
        (V.probability, math.nan, ValueError, "Owner: x must be in [0, 1) (got nan)."),
        (
            lambda v, n, o: V.probability(v, n, o, closed=True),
            1.5,
            ValueError,
            "Owner: x must be in [0, 1] (got 1.5).",
        ),
        (V.probability, False, TypeError, "Owner: x must be a number (got bool False)."),
        (
            lambda v, n, o: V.in_interval(v, n, o, low=0, high=1, include_low=False),
            0.0,
            ValueError,
            "Owner: x must be in (0, 1] (got 0.0).",
        ),
        (
            lambda v, n, o: V.in_interval(v, n, o, low=1, include_low=False),
            1,
            ValueError,
            "Owner: x must be > 1 (got 1).",
        ),
        (
            lambda v, n, o: V.in_interval(v, n, o, high=0.5),
            0.7,
            ValueError,
            "Owner: x must be <= 0.5 (got 0.7).",
        ),
        (
            lambda v, n, o: V.one_of(v, ("mean", "sum", "none"), n, o),
            "avg",
            ValueError,
            "Owner: x must be one of 'mean', 'sum', 'none' (got 'avg').",
        ),
        (
            lambda v, n, o: V.one_of(v, ("a",), n, o),
            ["a"],
            ValueError,
            "Owner: x must be one of 'a' (got ['a']).",
        ),
        (
            lambda v, n, o: V.one_of(v, {"a"}, n, o),
            ["a"],
            ValueError,
            "Owner: x must be one of 'a' (got ['a']).",
        ),
        (
            lambda v, n, o: V.one_of(v, (0, 1), n, o),
            True,
            ValueError,
            "Owner: x must be 0 or 1 (got True).",
        ),
        (
            lambda v, n, o: V.one_of(v, ("min", "max"), n, o),
            "low",
            ValueError,
            "Owner: x must be 'min' or 'max' (got 'low').",
        ),
        (V.boolean, 1, TypeError, "Owner: x must be True or False (got 1)."),
        (V.boolean, None, TypeError, "Owner: x must be True or False (got None)."),
    ],
)
def test_rejected_values_raise_the_right_type_with_the_template_message(check, value, error, text):
    with pytest.raises(error) as info:
        check(value, "x", "Owner")
    assert type(info.value) is error and str(info.value) == text


def test_a_fix_is_appended_after_a_semicolon():
    with pytest.raises(ValueError) as info:
        V.probability(1.0, "factor", "ReduceLROnPlateau", fix="the rate can only go down")
    assert (
        str(info.value)
        == "ReduceLROnPlateau: factor must be in [0, 1) (got 1.0); the rate can only go down."
    )
    with pytest.raises(TypeError) as info:
        V.positive_int(2.5, "n", "f", fix="round it with int(n)")
    assert str(info.value) == "f: n must be a positive int (got float 2.5); round it with int(n)."


def test_message_is_the_shared_template():
    assert V.message("SGD", "lr", ">= 0", "-1") == "SGD: lr must be >= 0 (got -1)."
    assert (
        V.message("SGD", "lr", ">= 0", "-1", "use 0.01")
        == "SGD: lr must be >= 0 (got -1); use 0.01."
    )


def test_every_public_check_is_tested_here():
    tested = {
        "message",
        "positive_int",
        "non_negative_int",
        "int_at_least",
        "positive_float",
        "non_negative_float",
        "in_interval",
        "probability",
        "one_of",
        "boolean",
    }
    assert set(V.__all__) == tested
