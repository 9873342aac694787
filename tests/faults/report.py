"""Where a long fault run leaves its figures: printed, and as JSON for docs/reliability.md."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["write_report"]


def write_report(name: str, figures: dict[str, Any], default_dir: Path) -> Path:
    """Print the figures and write them to `$TROUPE_FAULTS_REPORT_DIR/<name>.json` (else `default_dir`)."""
    folder = Path(os.environ.get("TROUPE_FAULTS_REPORT_DIR") or default_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    text = json.dumps(figures, indent=2, sort_keys=True)
    path.write_text(text + "\n")
    print(f"\n==> {name}: {path}\n{text}")
    return path
