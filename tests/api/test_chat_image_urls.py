"""Images by https URL in a chat message (issue 12): fetched once through the SSRF guard and stored like
an upload (size cap, content sniffing, Pillow), or refused with a clear 4xx and nothing kept.

The image host is a real HTTPS server on 127.0.0.1 (aiohttp, a trustme certificate for ``images.test``).
The app's guard is a real ``OutboundGuard`` that trusts the test CA, resolves ``images.test`` to
127.0.0.1 and admits ``images.test:<port>`` through its allow-list, as an admin would admit an internal
host. Any other way to reach 127.0.0.1 (the address itself, a redirect to it) must stay blocked."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import trustme
from aiohttp import web
from sqlalchemy import func, select

from agentcreator.core.config import OutboundSettings
from agentcreator.core.outbound import OutboundGuard
from agentcreator.db.models import File
from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, messages
from tests.api.files_helpers import empty_storage, file_settings, stored_files
from tests.conftest import UserSession
from tests.files import samples
from tests.llm.openai_double import OpenAIDouble, Script

HOST = "images.test"
PNG = samples.image("PNG", (40, 30), "blue")
JPEG = samples.jpeg_with_exif()
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'


@dataclass
class ImageHost:
    port: int = 0
    seen: list[str] = field(default_factory=list)

    def url(self, path: str, host: str = HOST) -> str:
        return f"https://{host}:{self.port}{path}"


class Resolver:
    """A real resolver object for the guard: images.test is 127.0.0.1, nothing else resolves."""

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        if host != HOST:
            raise OSError(f"unknown host {host}")
        return ["127.0.0.1"]


def _routes(host: ImageHost) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        host.seen.append(request.path_qs)
        path = request.path
        if path.endswith("/cat.png"):
            return web.Response(body=PNG, content_type="image/png")
        if path == "/photo":  # no extension, a JPEG with EXIF, served as octet-stream
            return web.Response(body=JPEG, content_type="application/octet-stream")
        if path == "/lying.png":  # an HTML page that claims to be a PNG
            return web.Response(body=b"<html><body>not an image</body></html>", content_type="image/png")
        if path == "/logo.svg":
            return web.Response(body=SVG, content_type="image/svg+xml")
        if path == "/bomb.png":
            return web.Response(body=samples.bomb_png(10_000), content_type="image/png")
        if path == "/truncated.png":
            return web.Response(body=samples.image("PNG", (300, 300), "red")[:400], content_type="image/png")
        if path == "/huge-declared.png":
            return web.Response(body=PNG + b"\0" * 200_000, content_type="image/png")
        if path == "/huge.png":  # chunked: no Content-Length, the cap must hold while streaming
            response = web.StreamResponse(headers={"Content-Type": "image/png"})
            await response.prepare(request)
            await response.write(PNG)
            for _ in range(64):
                await response.write(b"\0" * 65536)
            await response.write_eof()
            return response
        if path == "/loop":
            return web.Response(status=302, headers={"Location": "/loop"})
        if path == "/redirect":
            return web.Response(status=302, headers={"Location": request.query["to"]})
        if path == "/missing.png":
            return web.Response(status=404, text="gone")
        return web.Response(status=404)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    return app


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def image_host(authority: trustme.CA) -> AsyncIterator[ImageHost]:
    host = ImageHost()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(HOST, "127.0.0.1").configure_cert(server_context)
    runner = web.AppRunner(_routes(host), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    host.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield host
    await runner.cleanup()


@pytest.fixture
def guarded(app_state: AppState, image_host: ImageHost, authority: trustme.CA) -> Iterator[OutboundGuard]:
    """The app's guard for this test: real, trusting the test CA, admitting images.test:<port>."""
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    guard = OutboundGuard(OutboundSettings(allow_hosts=[f"{HOST}:{image_host.port}"], total_timeout_seconds=10),
                          resolver=Resolver(), ssl_context=client_context)
    before = app_state.outbound
    app_state.outbound = guard
    empty_storage(app_state)
    yield guard
    app_state.outbound = before


async def _file_rows(app_state: AppState) -> int:
    async with app_state.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(File))).scalar_one())


async def _post(client: httpx.AsyncClient, user: UserSession, conversation_id: str, *urls: str,
                text: str = "What is this?") -> httpx.Response:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}, *({"type": "image", "url": u} for u in urls)]
    return await client.post(f"/api/conversations/{conversation_id}/messages", headers=user.headers,
                             json={"content": content})


def _images_sent(body: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for message in body.get("messages") or body.get("input") or []:
        for part in message.get("content") or []:
            if isinstance(part, dict) and part.get("type") == "image_url":
                found.append(part["image_url"]["url"])
            elif isinstance(part, dict) and part.get("type") == "input_image":
                found.append(part["image_url"])
    return found


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "double/vision-model"])
async def test_an_image_url_is_fetched_once_and_stored_as_the_owners_file(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        app_state: AppState, image_host: ImageHost, guarded: OutboundGuard, model: str) -> None:
    _, conversation = await make_chat(client, alice, model=model)
    openai_double.push(Script(text=["A blue picture."]), Script(text=["Title"]), Script(text=["Still blue."]))
    response = await _post(client, alice, conversation["id"], image_host.url("/pictures/cat.png"))
    assert response.status_code == 201, response.text
    assert image_host.seen == ["/pictures/cat.png"]
    user_message = response.json()["user_message"]
    [text, image] = user_message["content"]
    assert text == {"type": "text", "text": "What is this?"}
    assert image["type"] == "file" and image["kind"] == "image" and image["name"] == "cat.png"
    assert "url" not in image and image["mime"] == "image/png"
    # the owner's file, on the conversation, served to the owner only
    meta = (await client.get(f"/api/files/{image['file_id']}", headers=alice.headers)).json()
    assert meta["conversation_id"] == conversation["id"] and meta["purpose"] == "vision"
    served = await client.get(f"/api/files/{image['file_id']}/content", headers=alice.headers)
    assert served.status_code == 200 and served.content.startswith(b"\x89PNG")
    assert (await client.get(f"/api/files/{image['file_id']}/content", headers=bob.headers)).status_code == 404
    # the model got the stored copy as a data URL, never the URL (it is not fetched by anyone else)
    chat_requests = [r for r in openai_double.requests if r.path.endswith(("/responses", "/chat/completions"))]
    [sent] = _images_sent(chat_requests[0].body)
    assert sent.startswith("data:image/") and image_host.url("") not in str(chat_requests[0].body)
    # the next turn sends it again from storage, without fetching again
    await client.post(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers,
                      json={"content": "And now?"})
    assert image_host.seen == ["/pictures/cat.png"]


async def test_the_content_decides_the_type_and_metadata_is_removed(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, image_host: ImageHost,
        guarded: OutboundGuard) -> None:
    _, conversation = await make_chat(client, alice, model="openai/gpt-4o-mini")
    response = await _post(client, alice, conversation["id"], image_host.url("/photo"))
    assert response.status_code == 201, response.text
    [_, image] = response.json()["user_message"]["content"]
    assert image["name"] == "photo.jpg" and image["mime"] == "image/jpeg"
    served = await client.get(f"/api/files/{image['file_id']}/content", headers=alice.headers)
    assert b"Exif" not in served.content[:4096]  # the EXIF block is gone (orientation applied)


async def test_a_data_url_image_becomes_a_file_too(client: httpx.AsyncClient, alice: UserSession,
                                                   openai_double: OpenAIDouble, guarded: OutboundGuard) -> None:
    _, conversation = await make_chat(client, alice, model="openai/gpt-4o-mini")
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    response = await _post(client, alice, conversation["id"], data_url)
    assert response.status_code == 201, response.text
    [_, image] = response.json()["user_message"]["content"]
    assert image["type"] == "file" and image["name"] == "image.png" and "url" not in image
    lying = "data:image/png;base64," + base64.b64encode(b"<html>hi</html>").decode()
    refused = await _post(client, alice, conversation["id"], lying)
    assert refused.status_code == 415 and refused.json()["error"]["code"] == "file_type_not_allowed"


@pytest.mark.parametrize(("url", "reaches_server"), [
    ("https://127.0.0.1:{port}/cat.png", False),               # the address itself: not admitted by name
    ("https://localhost:{port}/cat.png", False),               # no resolver answer, and not admitted
    ("https://169.254.169.254/latest/meta-data/", False),      # cloud metadata
    ("https://[::1]:{port}/cat.png", False),
    ("https://0x7f000001:{port}/cat.png", False),              # a numeric spelling of 127.0.0.1
    ("https://{host}:{port}/redirect?to=https://127.0.0.1:{port}/cat.png", True),   # redirect to private
    ("https://{host}:{port}/redirect?to=https://169.254.169.254/", True),
    ("https://{host}:{port}/redirect?to=file:///etc/passwd", True),
    ("https://user:pw@{host}:{port}/cat.png", False),          # credentials in the URL
])
async def test_private_destinations_are_refused_and_nothing_is_saved(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState,
        image_host: ImageHost, guarded: OutboundGuard, url: str, reaches_server: bool) -> None:
    _, conversation = await make_chat(client, alice, model="openai/gpt-4o-mini")
    calls = len(openai_double.requests)
    target = url.format(host=HOST, port=image_host.port)
    response = await _post(client, alice, conversation["id"], target)
    assert response.status_code == (422 if "localhost" in target else 400), response.text
    error = response.json()["error"]
    # refused on the address rules; a name no resolver knows cannot be fetched at all
    assert error["code"] == ("image_url_failed" if "localhost" in target else "blocked_destination"), error
    assert error["details"]["url"] == target
    # the private target was never reached: at most the admitted host's redirect was
    assert image_host.seen == ([target.split(str(image_host.port), 1)[1]] if reaches_server else [])
    assert await messages(client, alice, conversation["id"]) == []
    assert len(openai_double.requests) == calls
    assert await _file_rows(app_state) == 0 and stored_files(app_state) == []


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/huge.png", 413, "file_too_large"),           # streamed past the cap (no Content-Length)
    ("/huge-declared.png", 413, "file_too_large"),  # refused on its Content-Length
    ("/lying.png", 415, "file_type_not_allowed"),   # HTML served as image/png: the content decides
    ("/logo.svg", 415, "file_type_not_allowed"),    # SVG is never an image here (scripts)
    ("/bomb.png", 422, "image_too_large"),          # 100 M pixels in a few kB
    ("/truncated.png", 422, "damaged_file"),
    ("/missing.png", 422, "image_url_failed"),
    ("/loop", 422, "image_url_failed"),             # redirects without end
])
async def test_bad_images_are_refused_and_nothing_is_kept(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState,
        image_host: ImageHost, guarded: OutboundGuard, path: str, status: int, code: str) -> None:
    _, conversation = await make_chat(client, alice, model="openai/gpt-4o-mini")
    with file_settings(app_state, max_file_bytes=100_000):
        response = await _post(client, alice, conversation["id"], image_host.url(path))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["details"]["url"] == image_host.url(path)
    assert await messages(client, alice, conversation["id"]) == []
    assert await _file_rows(app_state) == 0 and stored_files(app_state) == []  # no spool file left either


async def test_a_failing_second_image_leaves_no_file_of_the_first(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState,
        image_host: ImageHost, guarded: OutboundGuard) -> None:
    _, conversation = await make_chat(client, alice, model="openai/gpt-4o-mini")
    response = await _post(client, alice, conversation["id"], image_host.url("/cat.png"),
                           image_host.url("/lying.png"))
    assert response.status_code == 415, response.text
    assert image_host.seen == ["/cat.png", "/lying.png"]
    assert await _file_rows(app_state) == 0 and stored_files(app_state) == []


async def test_the_quota_holds_for_fetched_images(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState,
        image_host: ImageHost, guarded: OutboundGuard) -> None:
    _, conversation = await make_chat(client, alice, model="openai/gpt-4o-mini")
    with file_settings(app_state, user_quota_bytes=2048):
        response = await _post(client, alice, conversation["id"], image_host.url("/huge.png"))
    assert response.status_code == 413 and response.json()["error"]["code"] == "quota_exceeded", response.text
    assert await _file_rows(app_state) == 0 and stored_files(app_state) == []


async def test_a_model_without_vision_refuses_before_anything_is_fetched(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState,
        image_host: ImageHost, guarded: OutboundGuard) -> None:
    _, conversation = await make_chat(client, alice, model="double/gpt-4o-mini")
    response = await _post(client, alice, conversation["id"], image_host.url("/cat.png"))
    assert response.status_code == 422 and response.json()["error"]["code"] == "model_cannot_see_images"
    assert image_host.seen == [] and await _file_rows(app_state) == 0


async def test_a_refused_edit_keeps_no_fetched_file(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState,
        image_host: ImageHost, guarded: OutboundGuard) -> None:
    _, conversation = await make_chat(client, alice, model="openai/gpt-4o-mini")
    response = await client.post(f"/api/conversations/{conversation['id']}/messages/{'0' * 32}/edit",
                                 headers=alice.headers,
                                 json={"content": [{"type": "image", "url": image_host.url("/cat.png")}]})
    assert response.status_code == 404, response.text
    assert image_host.seen == ["/cat.png"]  # fetched, then the edit was refused: the file went with it
    assert await _file_rows(app_state) == 0 and stored_files(app_state) == []


async def test_another_users_conversation_is_not_found_and_nothing_is_fetched_for_it(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        app_state: AppState, image_host: ImageHost, guarded: OutboundGuard) -> None:
    _, conversation = await make_chat(client, alice, model="openai/gpt-4o-mini")
    response = await _post(client, bob, conversation["id"], image_host.url("/cat.png"))
    assert response.status_code == 404, response.text
    assert image_host.seen == []
    assert await _file_rows(app_state) == 0 and stored_files(app_state) == []
    assert await messages(client, alice, conversation["id"]) == []


async def test_the_socket_fetches_image_urls_the_same_way(
        live_client: httpx.AsyncClient, live_server: str, alice: UserSession, openai_double: OpenAIDouble,
        app_state: AppState, image_host: ImageHost, guarded: OutboundGuard) -> None:
    from tests.api.test_ws import authed, recv, recv_until

    _, conversation = await make_chat(live_client, alice, model="openai/gpt-4o-mini")
    async with await authed(live_server, alice) as ws:
        blocked = f"https://127.0.0.1:{image_host.port}/cat.png"
        await ws.send(json.dumps({"type": "send", "conversation_id": conversation["id"], "request_id": "r1",
                                  "content": [{"type": "image", "url": blocked}]}))
        refused = await recv(ws)
        assert refused["type"] == "error" and refused["error"]["code"] == "blocked_destination", refused
        assert refused["error"]["details"]["url"] == blocked and image_host.seen == []
        await ws.send(json.dumps({"type": "send", "conversation_id": conversation["id"], "request_id": "r2",
                                  "content": [{"type": "text", "text": "see"},
                                              {"type": "image", "url": image_host.url("/cat.png")}]}))
        await recv_until(ws, lambda f: f.get("type") == "error" or f.get("event", {}).get("type") == "turn_completed")
    [user_message, *_] = await messages(live_client, alice, conversation["id"])
    [_, image] = user_message["content"]
    assert image["type"] == "file" and image["name"] == "cat.png" and image_host.seen == ["/cat.png"]
    meta = (await live_client.get(f"/api/files/{image['file_id']}", headers=alice.headers)).json()
    assert meta["conversation_id"] == conversation["id"]


async def test_image_fetches_count_against_the_turn_rate(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        app_state: AppState, image_host: ImageHost, guarded: OutboundGuard) -> None:
    """A user over the per-minute turn limit cannot make the server fetch URLs (messages to an unknown
    message id included: those fetch, are refused, and still count)."""
    assert (await client.patch("/api/admin/settings", headers=alice.headers,
                               json={"turns_per_minute": 2})).status_code == 200
    _, conversation = await make_chat(client, bob, model="openai/gpt-4o-mini")
    edit = f"/api/conversations/{conversation['id']}/messages/{'0' * 32}/edit"
    body = {"content": [{"type": "image", "url": image_host.url("/cat.png")}]}
    for _ in range(2):
        assert (await client.post(edit, headers=bob.headers, json=body)).status_code == 404
    assert image_host.seen == ["/cat.png", "/cat.png"]
    refused = await client.post(edit, headers=bob.headers, json=body)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_turns"
    assert image_host.seen == ["/cat.png", "/cat.png"]  # not fetched again
    assert await _file_rows(app_state) == 0 and stored_files(app_state) == []
