from ..util.text import banner
from .base import Model


class Order(Model):
    def __init__(self, items: list[str]) -> None:
        super().__init__()
        self.items = items

    def total(self) -> float:
        banner("total")
        return float(count_items(self.items))


def count_items(items: list[str], depth: int = 0) -> int:
    # Recursion: the analyser must stop on it.
    if not items:
        return 0
    return 1 + count_items(items[1:], depth + 1)
