from __future__ import annotations

import math
from pathlib import Path

import pytest

from toolbox import InvalidArguments, Registry, ToolContext, run_tool
from toolbox.math_tool import MathTool, evaluate


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
