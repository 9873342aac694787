"""math: evaluates an arithmetic expression with simpleeval (an AST walker with a whitelist), never eval()."""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

import simpleeval
from pydantic import BaseModel, ConfigDict, Field

from toolbox.errors import InvalidArguments
from toolbox.isolated import Limits, run_isolated
from toolbox.registry import ToolContext, ToolSpec
from toolbox.settings import ToolSettings

__all__ = ["MathArgs", "MathResult", "MathTool", "evaluate", "is_cheap"]

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
_MAX_FACTORIAL = 2_000
_TOO_MANY_DIGITS = f"the result would have more than {_MAX_DIGITS} digits"


def _bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def _power(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, int | float) and abs(exponent) > _MAX_EXPONENT:
        raise ValueError(f"exponent {exponent} is larger than {_MAX_EXPONENT}")
    if isinstance(base, int) and isinstance(exponent, int) and _bits(base) * exponent > _MAX_BITS:
        raise ValueError(_TOO_MANY_DIGITS)
    return operator.pow(base, exponent)


def _multiply(a: Any, b: Any) -> Any:
    if _bits(a) + _bits(b) > _MAX_BITS:
        raise ValueError(_TOO_MANY_DIGITS)
    return simpleeval.safe_mult(a, b)


def _factorial(n: Any) -> Any:
    if isinstance(n, int) and n > _MAX_FACTORIAL:
        raise ValueError(f"factorial argument larger than {_MAX_FACTORIAL}")
    return math.factorial(n)


def _perm(n: Any, k: Any = None) -> Any:
    taken = n if k is None else k
    # n! / (n-k)! < n**k: k factors of at most n's size each.
    if isinstance(n, int) and isinstance(taken, int) and taken > 0 and _bits(n) * min(taken, n) > _MAX_BITS:
        raise ValueError(f"perm({n}, {taken}): {_TOO_MANY_DIGITS}")
    return math.perm(n, k)


def _comb(n: Any, k: Any) -> Any:
    # comb(n, k) = comb(n, n-k) < n**min(k, n-k).
    if isinstance(n, int) and isinstance(k, int) and 0 < k < n and _bits(n) * min(k, n - k) > _MAX_BITS:
        raise ValueError(f"comb({n}, {k}): {_TOO_MANY_DIGITS}")
    return math.comb(n, k)


def _lcm(*values: Any) -> Any:
    if sum(_bits(v) for v in values) > _MAX_BITS:
        raise ValueError(f"lcm: {_TOO_MANY_DIGITS}")
    return math.lcm(*values)


_BOUNDED = {"factorial": _factorial, "perm": _perm, "comb": _comb, "lcm": _lcm}


def evaluate(expression: str) -> int | float | bool:
    """The value of `expression`, or InvalidArguments naming what is wrong with it."""
    evaluator = simpleeval.SimpleEval(
        functions={**_FUNCTIONS, **_BOUNDED},
        names=dict(_NAMES),
        operators={**simpleeval.DEFAULT_OPERATORS},
    )
    evaluator.operators[simpleeval.ast.Pow] = _power
    evaluator.operators[simpleeval.ast.Mult] = _multiply
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


# Without powers, shifts and function calls every step is an addition, a bounded multiplication or a division
# of numbers of at most _MAX_DIGITS digits, so an expression of at most 2,000 characters takes microseconds.
_CHEAP_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
)  # fmt: skip


def is_cheap(expression: str) -> bool:
    """Whether `expression` is plain arithmetic on numbers, cheap enough to evaluate on the event loop."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return all(
        isinstance(node, _CHEAP_NODES)
        and (not isinstance(node, ast.Constant) or type(node.value) in (int, float, bool))
        for node in ast.walk(tree)
    )


class MathArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: str = Field(min_length=1, max_length=2_000)


class MathResult(BaseModel):
    value: int | float | bool


class MathTool:
    """Anything but plain arithmetic is evaluated in a worker process with a time and a memory limit."""

    def __init__(self, settings: ToolSettings | None = None) -> None:
        settings = settings or ToolSettings()
        self._limits = Limits(wall_s=settings.math_timeout_s, memory_mib=settings.math_memory_mb)
        self.spec = ToolSpec(
            name="math",
            description=(
                "Evaluate an arithmetic expression: + - * / // % **, comparisons, and math functions "
                "(sqrt, log, sin, factorial, ...) and constants (pi, e)."
            ),
            args_model=MathArgs,
            result_model=MathResult,
            timeout_s=settings.math_timeout_s,
            limits={
                "max_exponent": _MAX_EXPONENT,
                "max_digits": _MAX_DIGITS,
                "max_factorial": _MAX_FACTORIAL,
                "memory_mb": settings.math_memory_mb,
            },
        )

    async def run(self, args: MathArgs, context: ToolContext) -> MathResult:
        if is_cheap(args.expression):
            return MathResult(value=evaluate(args.expression))
        return MathResult(value=await run_isolated("math", self._limits, evaluate, args.expression))
