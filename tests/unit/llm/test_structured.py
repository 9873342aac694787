from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from troupe.llm.structured import parse_answer, repair_message


class Point(BaseModel):
    x: int
    y: int


@pytest.mark.parametrize(
    "text", ['{"x": 1, "y": 2}', '```json\n{"x": 1, "y": 2}\n```', '  ```\n{"x": 1, "y": 2}```  ']
)
def test_json_is_read_with_or_without_a_markdown_fence(text: str) -> None:
    assert parse_answer(Point, text) == Point(x=1, y=2)


def test_the_repair_message_names_each_invalid_field() -> None:
    with pytest.raises(ValidationError) as invalid:
        parse_answer(Point, '{"x": "one"}')
    message = repair_message(invalid.value)
    assert "x: Input should be a valid integer" in message
    assert "y: Field required" in message
    assert message.endswith("Answer again with only the corrected JSON object.")
