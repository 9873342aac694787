"""A small synchronous client of the gateway's HTTP API, for the command line.

Synchronous on purpose: it serves one person at a terminal, and Typer commands are plain functions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import httpx

__all__ = ["GatewayClient", "GatewayError", "parse_sse"]

Json = dict[str, Any]
_DOWNLOAD_BYTES = 1024 * 1024


class GatewayError(Exception):
    """The gateway refused or could not be reached; `detail` is its reason."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(f"{status}: {detail}" if status else detail)
        self.status = status
        self.detail = detail


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(event name, data) per server-sent event; comments and ids are skipped."""
    name, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield name, "\n".join(data)


class GatewayClient:
    def __init__(
        self,
        url: str,
        api_key: str | None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def submit(self, request: Json, idempotency_key: str | None = None) -> Json:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._call("POST", "/tasks", json=request, headers=headers)

    def task(self, task_id: str) -> Json:
        return self._call("GET", f"/tasks/{task_id}")

    def tasks(self, statuses: Iterable[str] = (), limit: int = 50) -> list[Json]:
        page = self._call("GET", "/tasks", params={"status": list(statuses), "limit": limit})
        return list(page["items"])

    def cancel(self, task_id: str) -> Json:
        return self._call("DELETE", f"/tasks/{task_id}")

    def answer_approval(self, task_id: str, decision: str, comment: str = "") -> Json:
        return self._call(
            "POST", f"/tasks/{task_id}/approval", json={"decision": decision, "comment": comment}
        )

    def logs(self, task_id: str) -> Iterator[Json]:
        cursor: str | None = None
        while True:
            params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
            page = self._call("GET", f"/tasks/{task_id}/logs", params=params)
            yield from page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return

    def artifacts(self, task_id: str) -> list[Json]:
        return list(self._call("GET", f"/tasks/{task_id}/artifacts")["items"])

    def download(self, task_id: str, artifact_id: str, into: BinaryIO, limit: int) -> tuple[int, str]:
        """Streams the artefact into `into`, 1 MiB at a time; the bytes written and their sha256 (hex).
        More than `limit` bytes (the size the listing gave) is an error, so a gateway cannot fill the disk."""
        digest, written = hashlib.sha256(), 0
        try:
            with self._http.stream("GET", f"/tasks/{task_id}/artifacts/{artifact_id}") as r:
                if r.status_code != 200:
                    r.read()
                    raise _error(r)
                for chunk in r.iter_bytes(_DOWNLOAD_BYTES):
                    written += len(chunk)
                    if written > limit:
                        raise GatewayError(None, f"artifact {artifact_id} is longer than its {limit:,} bytes")
                    digest.update(chunk)
                    into.write(chunk)
        except httpx.TransportError as exc:
            raise GatewayError(None, f"cannot reach the gateway: {exc}") from exc
        return written, digest.hexdigest()

    def events(self, task_id: str) -> Iterator[tuple[str, Json]]:
        """The task's snapshot, then its events, until the stream ends."""
        try:
            with self._http.stream(
                "GET", f"/tasks/{task_id}/events", timeout=httpx.Timeout(30, read=None)
            ) as r:
                if r.status_code != 200:
                    r.read()
                    raise _error(r)
                for name, data in parse_sse(r.iter_lines()):
                    yield name, json.loads(data)
        except httpx.TransportError as exc:
            raise GatewayError(None, f"cannot reach the gateway: {exc}") from exc

    def _call(self, method: str, path: str, **kwargs: Any) -> Json:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise GatewayError(None, f"cannot reach the gateway at {self._http.base_url}: {exc}") from exc
        if response.is_error:
            raise _error(response)
        body: Json = response.json()
        return body


def _error(response: httpx.Response) -> GatewayError:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    return GatewayError(response.status_code, detail if isinstance(detail, str) else json.dumps(detail))
