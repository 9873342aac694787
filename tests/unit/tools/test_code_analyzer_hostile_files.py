"""A tenant's own files in the folder the analyser reads: a FIFO named like a source or a project file, a link."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from toolbox.code_analyzer.python import PythonAnalyzer
from toolbox.code_analyzer.tool import analyse_project


def _analysed_within(root: Path, seconds: float) -> list[str]:
    """The errors of analysing root in a thread; fails if the analysis is still blocked after `seconds`."""
    errors: list[str] = []

    def run() -> None:
        result = analyse_project(root, "main", "work", [PythonAnalyzer()])
        errors.extend(f"{e.file}: {e.message}" for e in result.errors)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        # Unblock the old code's read so the thread ends: a writer on each FIFO.
        for fifo in root.rglob("*"):
            if fifo.is_fifo():
                with contextlib.suppress(OSError):  # ENXIO: nobody reads this one
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        raise AssertionError("the analysis blocked on a file it should have refused")
    return errors


def test_a_fifo_named_like_a_source_or_a_project_file_is_reported_not_waited_on(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def main():\n    work()\n\ndef work():\n    pass\n")
    os.mkfifo(tmp_path / "trap.py")
    os.mkfifo(tmp_path / "pyproject.toml")

    errors = _analysed_within(tmp_path, 10)

    assert any(e.startswith("trap.py") and "not a regular file" in e for e in errors)


def test_a_source_over_the_size_limit_is_reported_unread(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def main():\n    work()\n\ndef work():\n    pass\n")
    (tmp_path / "generated.py").write_bytes(b"x = 1\n" * 400_000)

    errors = _analysed_within(tmp_path, 30)

    assert any(e.startswith("generated.py") and "over the" in e for e in errors)
