"""The commit watermark: with records finishing out of order, only offsets below every unfinished one are
committed."""

from __future__ import annotations

from troupe.offset_watermark import OffsetWatermark


def taken(*offsets: int) -> OffsetWatermark:
    watermark = OffsetWatermark()
    for offset in offsets:
        watermark.started(offset)
    return watermark


def test_nothing_is_committable_before_a_record_is_taken() -> None:
    assert OffsetWatermark().committable() is None


def test_a_later_record_finishing_first_does_not_move_the_watermark() -> None:
    watermark = taken(10, 11, 12)
    watermark.finished(12)
    watermark.finished(11)
    assert watermark.committable() == 10


def test_the_watermark_moves_to_the_next_unfinished_record() -> None:
    watermark = taken(10, 11, 12, 13)
    for offset in (12, 10):
        watermark.finished(offset)
    assert watermark.committable() == 11
    watermark.finished(11)
    assert watermark.committable() == 13


def test_with_everything_finished_the_watermark_is_one_past_the_highest_taken() -> None:
    watermark = taken(5, 6, 9)  # gaps: compacted or transaction markers
    for offset in (9, 5, 6):
        watermark.finished(offset)
    assert watermark.committable() == 10
    assert watermark.unfinished == 0


def test_what_was_committed_is_not_owed_again() -> None:
    watermark = taken(1, 2)
    watermark.finished(1)
    assert watermark.owed() == 2
    watermark.committed = 2
    assert watermark.owed() is None
    watermark.finished(2)
    assert watermark.owed() == 3
