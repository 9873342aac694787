"""The analyser's per-file facts cache: a hit gives what a cold run gives, other bytes never hit, and what the
cache folder holds is trusted only when it is the service's own and reads back under its own key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolbox.code_analyzer.facts_cache import FactsCache
from toolbox.code_analyzer.model import AnalyzeResult
from toolbox.code_analyzer.python import PythonAnalyzer
from toolbox.code_analyzer.tool import analyse_project

_APP = """\
from shop.orders import place


def main():
    place(3)
"""
_ORDERS = """\
from .stock import reserve


class Order:
    def __init__(self, n):
        self.n = n

    def total(self):
        return self.n * 2


def place(n):
    order = Order(n)
    reserve(order.total())
"""
_STOCK = """\
def reserve(count):
    log(count)


def log(count):
    print(count)
"""


def _project(root: Path) -> Path:
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "app.py").write_text(_APP)
    (root / "shop" / "orders.py").write_text(_ORDERS)
    (root / "shop" / "stock.py").write_text(_STOCK)
    (root / "shop" / "broken.py").write_text("def oops(:\n")
    return root


def _analyse(root: Path, cache: FactsCache | None, target: str = "log") -> AnalyzeResult:
    return analyse_project(root, "main", target, [PythonAnalyzer(cache)])


def _cache(tmp_path: Path, max_bytes: int = 10_000_000) -> FactsCache:
    return FactsCache(tmp_path / "cache", max_bytes)


def test_a_warm_run_reads_every_file_from_the_cache_and_gives_the_cold_result(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    uncached = _analyse(root, None)
    cold_cache = _cache(tmp_path)
    cold = _analyse(root, cold_cache)
    warm_cache = _cache(tmp_path)

    warm = _analyse(root, warm_cache)

    assert cold_cache.hits == 0
    assert warm_cache.misses == 0 and warm_cache.hits > 0
    assert warm.paths == [["shop.app.main", "shop.orders.place", "shop.stock.reserve", "shop.stock.log"]]
    assert warm.model_dump() == cold.model_dump() == uncached.model_dump()
    assert [e.file for e in warm.errors] == ["shop/broken.py"]


def test_changed_bytes_miss_and_give_what_the_new_bytes_say(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    _analyse(root, _cache(tmp_path))
    # Same length, other callee: cached facts of the old bytes would still show the call to log.
    (root / "shop" / "stock.py").write_text(_STOCK.replace("    log(count)", "    gol(count)"))
    cache = _cache(tmp_path)

    result = _analyse(root, cache)

    assert cache.misses > 0
    assert result.paths == []
    assert result.model_dump() == _analyse(root, None).model_dump()


def test_the_same_bytes_under_another_module_name_are_recorded_under_that_name(tmp_path: Path) -> None:
    first = _project(tmp_path / "one")
    _analyse(first, _cache(tmp_path))
    second = tmp_path / "two"
    (second / "market").mkdir(parents=True)
    (second / "market" / "__init__.py").write_text("")
    (second / "market" / "stock.py").write_text(_STOCK)

    result = analyse_project(second, "reserve", "log", [PythonAnalyzer(_cache(tmp_path))])

    assert result.paths == [["market.stock.reserve", "market.stock.log"]]


def test_an_entry_moved_under_another_key_is_not_served(tmp_path: Path) -> None:
    """Someone able to rename entries cannot make the facts of one file stand for another's bytes."""
    cache = _cache(tmp_path)
    cache.put(cache.key("v", "facts", "a"), "facts of a")
    os.replace(cache.folder / f"{cache.key('v', 'facts', 'a')}.facts", cache.folder / "b.facts")

    assert cache.get("b") is None
    assert cache.get(cache.key("v", "facts", "a")) is None


def test_a_link_or_a_fifo_in_the_cache_folder_is_a_miss_not_followed_or_waited_on(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    cache.put("warmup", 1)
    elsewhere = tmp_path / "planted"
    elsewhere.write_bytes(b"not a pickle of ours")
    (cache.folder / "linked.facts").symlink_to(elsewhere)
    os.mkfifo(cache.folder / "fifo.facts")

    assert cache.get("linked") is None
    assert cache.get("fifo") is None
    assert cache.get("warmup") == 1


@pytest.mark.parametrize("mode", [0o770, 0o777])
def test_a_cache_folder_others_may_write_turns_the_cache_off(tmp_path: Path, mode: int) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(mode)
    cache = FactsCache(folder, 10_000_000)

    cache.put("k", "facts")

    assert list(folder.iterdir()) == []
    assert cache.get("k") is None


def test_a_cache_folder_that_is_a_link_turns_the_cache_off(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    cache = FactsCache(tmp_path / "link", 10_000_000)

    cache.put("k", "facts")

    assert list(real.iterdir()) == []


def test_a_symlinked_or_fifo_source_is_still_refused_when_cached(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    secret = tmp_path / "secret.py"
    secret.write_text("def leaked():\n    pass\n")
    (root / "shop" / "linked.py").symlink_to(secret)
    os.mkfifo(root / "shop" / "trap.py")
    analyse_project(root, "main", "log", [PythonAnalyzer(_cache(tmp_path))])  # warms the cache

    result = analyse_project(root, "main", "log", [PythonAnalyzer(_cache(tmp_path))])

    names = {f.name for f in result.graph.functions}
    assert "shop.linked.leaked" not in names
    assert any(e.file == "shop/trap.py" and "not a regular file" in e.message for e in result.errors)


def test_the_folder_is_trimmed_to_its_bound_least_recently_used_first(tmp_path: Path) -> None:
    cache = _cache(tmp_path, max_bytes=3_000)
    for i in range(10):
        cache.put(f"k{i}", b"x" * 500)
        os.utime(cache.folder / f"k{i}.facts", (1_000 + i, 1_000 + i))
    assert cache.get("k0") is not None  # used now: the most recent

    cache.trim()

    kept = {p.name for p in cache.folder.iterdir()}
    assert sum(p.stat().st_size for p in cache.folder.iterdir()) <= 3_000
    assert "k0.facts" in kept and "k9.facts" in kept and "k1.facts" not in kept
