"""Reading a model's answer as the caller's pydantic model, and the message that asks for a repair."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["describe_errors", "parse_answer", "repair_message"]

T = TypeVar("T", bound=BaseModel)

_ERRORS_SHOWN = 10


def parse_answer(schema: type[T], text: str) -> T:
    """The answer as `schema`; raises pydantic's ValidationError."""
    return schema.model_validate_json(_strip_fences(text))


def _strip_fences(text: str) -> str:
    """Some compatible servers wrap JSON in a Markdown fence even in JSON mode."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[-1] if "\n" in stripped else stripped.strip("`")
        stripped = stripped.removesuffix("```").strip()
    return stripped


def describe_errors(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)[:_ERRORS_SHOWN]
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors)


def repair_message(exc: ValidationError) -> str:
    return (
        "Your previous answer does not match the required JSON schema. Validation errors: "
        f"{describe_errors(exc)}. Answer again with only the corrected JSON object."
    )
