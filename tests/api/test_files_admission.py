"""Uploads past FILES__MAX_CONCURRENT_UPLOADS wait their turn (unread) and all succeed; a client that goes
away or stalls mid-body does not keep the others waiting. Through a real uvicorn (live server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest

from agentcreator.api.deps import file_service_of
from agentcreator.files.admission import UploadSlots
from agentcreator.state import AppState
from tests.api.files_helpers import empty_storage, stored_files
from tests.conftest import UserSession

BOUNDARY = "admission-boundary"


@pytest.fixture(autouse=True)
def _clean_storage(app_state: AppState) -> None:
    empty_storage(app_state)


@contextmanager
def one_slot(app_state: AppState, idle_seconds: float = 0.05) -> Iterator[UploadSlots]:
    service = file_service_of(app_state)
    before = service.upload_slots
    service.upload_slots = UploadSlots(1, idle_seconds)
    try:
        yield service.upload_slots
    finally:
        service.upload_slots = before


def _head(name: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: text/plain\r\n\r\n").encode()


TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


async def _streamed(client: httpx.AsyncClient, user: UserSession, name: str, fill: bytes,
                    chunks: int) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        yield _head(name)
        for _ in range(chunks):
            yield fill * 65536
        yield TAIL

    headers = {**user.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return await client.post("/api/files", headers=headers, content=body())


async def _partial_upload(base: str, user: UserSession) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw connection that sends the headers and the first 256 KiB of a 4 MiB upload, then nothing."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = _head("stalled.txt")
    length = len(head) + 4 * 1024 * 1024 + len(TAIL)
    writer.write((f"POST /api/files HTTP/1.1\r\nHost: {url.netloc}\r\n"
                  f"Authorization: {user.headers['Authorization']}\r\n"
                  f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                  f"Content-Length: {length}\r\n\r\n").encode() + head + b"s" * (256 * 1024))
    await writer.drain()
    return reader, writer


async def _until(condition: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (a counter of the service, not an event)
            await asyncio.sleep(0.005)


async def test_more_uploads_than_the_limit_all_succeed_one_at_a_time(
        live_client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    with one_slot(app_state) as slots:
        most = 0
        done = False

        async def watch() -> None:
            nonlocal most
            while not done:
                most = max(most, slots.in_use)
                await asyncio.sleep(0.001)

        watcher = asyncio.create_task(watch())
        responses = await asyncio.gather(*(
            _streamed(live_client, alice, f"f{i}.txt", bytes([ord("a") + i]), chunks=16) for i in range(6)))
        done = True
        await watcher
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    assert {r.json()["size"] for r in responses} == {16 * 65536}
    assert most == 1 and slots.in_use == 0
    listing = await live_client.get("/api/files", headers=alice.headers)
    assert listing.json()["count"] == 6


async def test_a_client_that_goes_away_mid_upload_gives_its_slot_back(
        live_client: httpx.AsyncClient, live_server: str, alice: UserSession, app_state: AppState) -> None:
    with one_slot(app_state, idle_seconds=30) as slots:  # it would hold the slot while it waits
        _, writer = await _partial_upload(live_server, alice)
        await _until(lambda: slots.in_use == 1)
        writer.close()
        await writer.wait_closed()
        await _until(lambda: slots.in_use == 0)
        response = await _streamed(live_client, alice, "next.txt", b"n", chunks=4)
        assert response.status_code == 201, response.text
    assert not [p for p in stored_files(app_state) if p.parent.name == "tmp"]  # its spool file is gone
    listing = await live_client.get("/api/files", headers=alice.headers)
    assert [f["name"] for f in listing.json()["data"]] == ["next.txt"]


async def test_a_stalled_client_does_not_hold_the_next_upload_back(
        live_client: httpx.AsyncClient, live_server: str, alice: UserSession, app_state: AppState) -> None:
    with one_slot(app_state, idle_seconds=0.05) as slots:
        reader, writer = await _partial_upload(live_server, alice)
        try:
            await _until(lambda: slots.in_use == 1)
            response = await asyncio.wait_for(_streamed(live_client, alice, "next.txt", b"n", chunks=4), 10)
            assert response.status_code == 201, response.text
            # The stalled upload goes on once its bytes come: it is stored too.
            writer.write(b"s" * (4 * 1024 * 1024 - 256 * 1024) + TAIL)
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), 10)
            assert status_line.startswith(b"HTTP/1.1 201"), status_line
        finally:
            writer.close()
            await writer.wait_closed()
    assert slots.in_use == 0
    listing = await live_client.get("/api/files", headers=alice.headers)
    assert sorted(f["name"] for f in listing.json()["data"]) == ["next.txt", "stalled.txt"]
