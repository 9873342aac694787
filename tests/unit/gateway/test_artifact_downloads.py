"""`troupe artifacts ID --save DIR` against a hostile gateway: names it cannot steer, bytes checked."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from gateway_svc.client import GatewayClient
from troupe import cli
from troupe.artifact_files import UnsafeArtifact, file_name, save_artifact

GOOD, WRONG, LONG = "a" * 32, "b" * 32, "c" * 32
BODY = os.urandom(300_000)
OUTSIDE_NAMES = ["../../escaped", "../" + "d" * 32, "/tmp/troupe-escaped", "d" * 32 + "/../../x", ".."]


def item(
    artefact_id: str, body: bytes, media_type: str = "application/json", size: int | None = None
) -> dict[str, object]:
    digest = hashlib.sha256(body).hexdigest()
    return {
        "id": artefact_id,
        "step": "1/s1",
        "size": len(body) if size is None else size,
        "media_type": media_type,
        "sha256": digest,
        "preview": "",
    }


def hostile(requested: list[str]) -> httpx.MockTransport:
    listing = [item(GOOD, BODY), item(WRONG, b"promised"), item(LONG, BODY, size=10)]
    listing += [item(name, BODY) for name in OUTSIDE_NAMES]
    bodies = {GOOD: BODY, WRONG: b"PROMISED", LONG: BODY}

    def answer(request: httpx.Request) -> httpx.Response:
        requested.append(request.url.path)
        if request.url.path == "/tasks/t-1/artifacts":
            return httpx.Response(200, json={"items": listing})
        return httpx.Response(200, content=bodies.get(request.url.path.rsplit("/", 1)[-1], BODY))

    return httpx.MockTransport(answer)


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(cli, "_gateway", lambda url, key: GatewayClient(url, key, transport=hostile(seen)))
    return seen


def test_saving_refuses_names_that_leave_the_folder_and_bytes_that_do_not_match(
    requested: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    planted = tmp_path / "victim"
    planted.write_bytes(b"not yours")
    (folder / f"{GOOD}.json").symlink_to(
        planted
    )  # a link where the artefact will go is replaced, not followed

    result = CliRunner().invoke(cli.app, ["artifacts", "t-1", "--save", str(folder)], env={"COLUMNS": "200"})

    assert result.exit_code == 2, result.output
    assert (folder / f"{GOOD}.json").read_bytes() == BODY and not (folder / f"{GOOD}.json").is_symlink()
    assert planted.read_bytes() == b"not yours"
    assert sorted(p.name for p in folder.iterdir()) == [f"{GOOD}.json"]  # no partial file left either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved", "victim"]
    assert not Path("/tmp/troupe-escaped").exists()
    assert not any(".." in path for path in requested)  # a refused id is not even asked for
    assert result.output.count("refused artifact id") == len(OUTSIDE_NAMES)
    assert f"artifact {WRONG}: got" in result.output and "longer than its 10 bytes" in result.output


def test_listing_shows_id_step_size_media_type_and_sha256(requested: list[str]) -> None:
    result = CliRunner().invoke(cli.app, ["artifacts", "t-1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    good = next(line for line in result.output.splitlines() if GOOD in line)
    for shown in ("1/s1", f"{len(BODY):,}", "application/json", hashlib.sha256(BODY).hexdigest()):
        assert shown in good
    assert requested == ["/tasks/t-1/artifacts"]


@pytest.mark.parametrize(
    "artefact_id",
    [*OUTSIDE_NAMES, "A" * 32, "a" * 31, "a" * 33, "a" * 32 + "\n", "", None, 7, "a" * 31 + "\\"],
)
def test_only_32_hex_digit_ids_are_file_names(artefact_id: object) -> None:
    with pytest.raises(UnsafeArtifact):
        file_name({"id": artefact_id, "media_type": "text/plain"})


@pytest.mark.parametrize(
    ("media_type", "name"),
    [("application/json", GOOD + ".json"), ("text/plain; charset=utf-8", GOOD + ".txt"), ("x/../../y", GOOD)],
)
def test_the_suffix_comes_from_a_fixed_table(media_type: str, name: str) -> None:
    assert file_name({"id": GOOD, "media_type": media_type}) == name


def test_a_download_streams_to_disk_without_holding_the_artefact(tmp_path: Path) -> None:
    chunks, chunk_bytes = 32, 1024 * 1024
    digest = hashlib.sha256()
    for n in range(chunks):
        digest.update(bytes([n]) * chunk_bytes)
    listed = {"id": GOOD, "size": chunks * chunk_bytes, "sha256": digest.hexdigest(), "media_type": "x/y"}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=(bytes([n]) * chunk_bytes for n in range(chunks)))

    with GatewayClient("http://gateway", None, transport=httpx.MockTransport(answer)) as gateway:
        tracemalloc.start()
        try:
            saved = save_artifact(gateway, "t-1", listed, tmp_path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert saved.stat().st_size == chunks * chunk_bytes
    assert peak < 8 * chunk_bytes, f"peak {peak:,} bytes for a {chunks} MiB download"
