from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from toolbox import InvalidArguments, Registry, ToolContext, run_tool
from toolbox.math_tool import MathTool, evaluate, is_cheap


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("7 // 2 + 7 % 2", 4),
        ("2 ** 10", 1024),
        ("sqrt(16) + abs(-2)", 6.0),
        ("round(pi, 2)", 3.14),
        ("log(e)", 1.0),
        ("factorial(5)", 120),
        ("max(1, 5, 3)", 5),
        ("1 < 2", True),
    ],
)
def test_evaluates_arithmetic_and_math_functions(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("__import__('os').system('id')", "not allowed"),
        ("(1).__class__.__bases__", "not allowed"),
        ("open('/etc/passwd')", "not allowed"),
        ("1 / 0", "division by zero"),
        ("2 ** 100000000", "exponent"),
        ("(10 ** 9999) ** 9999", "more than 10000 digits"),
        ("factorial(100000)", "larger than 2000"),
        ("'a' * 3", "does not give a number"),
        ("1 +", "not a valid expression"),
    ],
)
def test_refuses_what_is_unsafe_or_not_arithmetic(expression: str, reason: str) -> None:
    with pytest.raises(InvalidArguments, match=reason):
        evaluate(expression)


async def test_math_tool_returns_value(tmp_path: Path) -> None:
    out = await run_tool(
        Registry([MathTool()]), "math", {"expression": "sqrt(2) ** 2"}, ToolContext(tmp_path)
    )
    assert math.isclose(out["value"], 2.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expression", "bound"),
    [
        ("perm(10**6)", "perm(1000000, 1000000): the result would have more than 10000 digits"),
        ("perm(10**6, 5000)", "perm(1000000, 5000): the result would have more than 10000 digits"),
        ("comb(10**7, 5*10**6)", "comb(10000000, 5000000): the result would have more than 10000 digits"),
        ("comb(10**7, 10**7 - 5000)", "more than 10000 digits"),
        ("lcm(7**9000, 7**9000 + 1, 7)", "lcm: the result would have more than 10000 digits"),
        ("7**9000 * 7**9000", "the result would have more than 10000 digits"),
        ("factorial(2001)", "larger than 2000"),
        ("2**2**2**2**2**2", "exponent 65536 is larger than 10000"),
    ],
)
def test_arguments_of_costly_functions_are_bounded(expression: str, bound: str) -> None:
    with pytest.raises(InvalidArguments, match=re.escape(bound)):
        evaluate(expression)


@pytest.mark.parametrize(
    ("expression", "value"),
    [("perm(10**6, 2)", 999999000000), ("comb(10**7, 2)", 49999995000000), ("lcm(4, 6, 10)", 60)],
)
def test_costly_functions_still_answer_within_their_bounds(expression: str, value: int) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "cheap"),
    [
        ("2 + 3 * 4", True),
        ("-(7 // 2) % 3 < 1.5", True),
        ("2 ** 3", False),
        ("sqrt(2)", False),
        ("'a'", False),
    ],
)
def test_only_plain_arithmetic_is_cheap_enough_for_the_event_loop(expression: str, cheap: bool) -> None:
    assert is_cheap(expression) is cheap
