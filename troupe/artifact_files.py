"""A task's artefacts saved from the gateway into a folder: under names the gateway cannot steer, checked
against their sha256 before they take their name."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from gateway_svc.client import GatewayClient

__all__ = ["UnsafeArtifact", "file_name", "save_artifact"]

_ID = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SUFFIXES = {"application/json": ".json", "text/plain": ".txt"}


class UnsafeArtifact(Exception):
    """The gateway described or sent an artefact that is not saved: a bad id, size or digest."""


def file_name(item: dict[str, Any]) -> str:
    """`<id>` and a suffix for its media type: the id is 32 hex digits or refused, so it cannot name a path
    outside the folder (`../`, `/`, a drive, a device) whatever the gateway answers."""
    artefact_id = item.get("id")
    if not isinstance(artefact_id, str) or not _ID.fullmatch(artefact_id):
        raise UnsafeArtifact(f"refused artifact id {artefact_id!r}: not 32 hex digits")
    media_type = str(item.get("media_type", "")).split(";")[0].strip().lower()
    return artefact_id + _SUFFIXES.get(media_type, "")


def save_artifact(gateway: GatewayClient, task_id: str, item: dict[str, Any], folder: Path) -> Path:
    """Streams one artefact into `folder`; it takes its name only once its size and sha256 are right."""
    name = file_name(item)
    size, sha256 = item.get("size"), item.get("sha256")
    if not isinstance(size, int) or size < 0 or not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise UnsafeArtifact(f"refused artifact {item['id']}: no valid size and sha256")
    # A new file of our own (O_EXCL) beside the target, so a link planted at the target is replaced, not followed.
    handle, part = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            written, digest = gateway.download(task_id, item["id"], out, size)
        if (written, digest) != (size, sha256):
            raise UnsafeArtifact(
                f"artifact {item['id']}: got {written:,} bytes with sha256 {digest}, "
                f"expected {size:,} bytes with {sha256}"
            )
        os.replace(part, folder / name)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    return folder / name
