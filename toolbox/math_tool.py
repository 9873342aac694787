"""math: evaluates an arithmetic expression with simpleeval (an AST walker with a whitelist), never eval()."""

from __future__ import annotations

import math
import operator
from typing import Any

import simpleeval
from pydantic import BaseModel, ConfigDict, Field

from toolbox.errors import InvalidArguments
from toolbox.registry import ToolContext, ToolSpec

__all__ = ["MathArgs", "MathResult", "MathTool", "evaluate"]

# simpleeval allows exponents up to 4,000,000, which takes seconds of CPU for big bases; keep results small.
_MAX_EXPONENT = 10_000
_MAX_DIGITS = 10_000

_FUNCTIONS: dict[str, Any] = {
    name: getattr(math, name)
    for name in (
        "sqrt", "exp", "log", "log10", "log2", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
        "sinh", "cosh", "tanh", "floor", "ceil", "factorial", "gcd", "lcm", "hypot", "degrees", "radians",
        "comb", "perm", "isqrt", "fsum",
    )
}  # fmt: skip
_FUNCTIONS.update(
    {"abs": abs, "round": round, "min": min, "max": max, "sum": sum, "int": int, "float": float}
)
_NAMES = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf, "True": True, "False": False}


_MAX_BITS = int(_MAX_DIGITS * 3.33)


def _power(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, int | float) and abs(exponent) > _MAX_EXPONENT:
        raise ValueError(f"exponent {exponent} is larger than {_MAX_EXPONENT}")
    if isinstance(base, int) and isinstance(exponent, int) and abs(base).bit_length() * exponent > _MAX_BITS:
        raise ValueError(f"the result would have more than {_MAX_DIGITS} digits")
    return operator.pow(base, exponent)


def _factorial(n: Any) -> Any:
    if isinstance(n, int) and n > 2_000:
        raise ValueError("factorial argument larger than 2000")
    return math.factorial(n)


def evaluate(expression: str) -> int | float | bool:
    """The value of `expression`, or InvalidArguments naming what is wrong with it."""
    evaluator = simpleeval.SimpleEval(
        functions={**_FUNCTIONS, "factorial": _factorial},
        names=dict(_NAMES),
        operators={**simpleeval.DEFAULT_OPERATORS},
    )
    evaluator.operators[simpleeval.ast.Pow] = _power
    try:
        value = evaluator.eval(expression)
    except ZeroDivisionError:
        raise InvalidArguments(f"math: division by zero in {expression!r}") from None
    except SyntaxError as e:
        raise InvalidArguments(f"math: {expression!r} is not a valid expression: {e.msg}") from None
    except simpleeval.InvalidExpression as e:
        raise InvalidArguments(f"math: {expression!r} is not allowed: {e}") from None
    except (ValueError, TypeError, OverflowError, ArithmeticError) as e:
        raise InvalidArguments(f"math: cannot evaluate {expression!r}: {e}") from None
    if isinstance(value, bool):
        return value
    if not isinstance(value, int | float):
        raise InvalidArguments(f"math: {expression!r} does not give a number (got {type(value).__name__})")
    if isinstance(value, int) and abs(value).bit_length() > _MAX_BITS:
        raise InvalidArguments(f"math: the result of {expression!r} has more than {_MAX_DIGITS} digits")
    return value


class MathArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: str = Field(min_length=1, max_length=2_000)


class MathResult(BaseModel):
    value: int | float | bool


class MathTool:
    def __init__(self) -> None:
        self.spec = ToolSpec(
            name="math",
            description=(
                "Evaluate an arithmetic expression: + - * / // % **, comparisons, and math functions "
                "(sqrt, log, sin, factorial, ...) and constants (pi, e)."
            ),
            args_model=MathArgs,
            result_model=MathResult,
            timeout_s=5.0,
            limits={"max_exponent": _MAX_EXPONENT, "max_digits": _MAX_DIGITS},
        )

    async def run(self, args: MathArgs, context: ToolContext) -> MathResult:
        return MathResult(value=evaluate(args.expression))
