"""Attachments as the model gets them: images as data URLs of the scaled copy, documents as their text
within a token budget, deleted files as a placeholder. Through the OpenAI double, both protocols carry
the image in their exact wire shape."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from PIL import Image

from agentcreator.api.deps import file_service_of
from agentcreator.db.session import session_scope
from agentcreator.files.for_model import file_ids_in, image_tokens, model_parts, uses_openai_tiles
from agentcreator.llm.types import ChatMessage, ImagePart, ModelInfo, ModelRequest, TextPart
from agentcreator.services.attachments import load_attached_files
from agentcreator.state import AppState
from tests.api.files_helpers import empty_storage, uploaded
from tests.conftest import UserSession
from tests.files import samples
from tests.llm.openai_double import OpenAIDouble


@pytest.fixture(autouse=True)
def _clean_storage(app_state: AppState) -> None:
    empty_storage(app_state)


@pytest.mark.parametrize(("size", "tiles", "detail", "tokens"), [
    ((1024, 1024), True, "auto", 765),  # OpenAI's worked examples
    ((2048, 4096), True, "high", 1105),
    ((4096, 8192), True, "auto", 1105),
    ((4096, 8192), True, "low", 85),
    ((500, 300), True, "auto", 255),
    ((1000, 750), False, "auto", 1000),
    ((10, 10), False, "auto", 85),
])
def test_image_token_estimates(size: tuple[int, int], tiles: bool, detail: str, tokens: int) -> None:
    assert image_tokens(*size, openai_tiles=tiles, detail=detail) == tokens


@pytest.mark.parametrize(("provider", "name", "tiles"), [
    ("openai", "gpt-4o-mini", True), ("openai", "some-future-model", True), ("proxy", "gpt-4.1-mini", True),
    ("ollama", "llava:13b", False), ("local", "smollm2-135m-instruct", False),
])
def test_which_models_use_the_tile_formula(provider: str, name: str, tiles: bool) -> None:
    info = ModelInfo(id=f"{provider}/{name}", provider=provider, name=name, context_length=8192,
                     max_output_tokens=1024)
    assert uses_openai_tiles(info) is tiles


async def _parts_for(app_state: AppState, user: UserSession, file_ids: list[str], **kwargs: object):
    content = [{"type": "text", "text": "Look:"}] + await file_service_of(app_state).attachment_parts(user.id, file_ids)
    async with session_scope(app_state.sessions) as session:
        files = await load_attached_files(session, user.id, [content])
    return content, await model_parts(content, files, file_service_of(app_state).storage,
                                       document_token_budget=kwargs.pop("budget", 8000), **kwargs)  # type: ignore[arg-type]


async def test_images_and_documents_become_model_parts(client: httpx.AsyncClient, alice: UserSession,
                                                       app_state: AppState) -> None:
    image = await uploaded(client, alice, "big.png", samples.image("PNG", (4000, 1000)))
    doc = await uploaded(client, alice, "report.pdf", samples.pdf(["Quarterly numbers went up.", "Page two."]))
    content, out = await _parts_for(app_state, alice, [image["id"], doc["id"]], openai_tiles=True)
    assert content[1] == {"type": "file", "file_id": image["id"], "name": "big.png", "mime": "image/png",
                          "kind": "image", "size": image["size"]}
    assert file_ids_in([content]) == [image["id"], doc["id"]]
    text, picture, document = out.parts
    assert text == TextPart(text="Look:")
    assert isinstance(picture, ImagePart) and picture.url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(picture.url.split(",", 1)[1])))
    assert decoded.size == (2048, 512)
    assert isinstance(document, TextPart) and "Quarterly numbers went up." in document.text
    assert document.text.startswith("[Attached file: report.pdf, 2 pages]")
    assert [(n.name, n.cut, n.deleted) for n in out.notes] == [("big.png", False, False), ("report.pdf", False, False)]
    assert out.notes[0].tokens == image_tokens(2048, 512, openai_tiles=True)


async def test_a_long_document_is_cut_to_the_budget_with_a_note(client: httpx.AsyncClient, alice: UserSession,
                                                                app_state: AppState) -> None:
    doc = await uploaded(client, alice, "long.txt", ("word " * 20_000).encode())
    _, out = await _parts_for(app_state, alice, [doc["id"]], budget=500)
    part = out.parts[1]
    assert isinstance(part, TextPart)
    assert out.notes[0].cut and 400 <= out.notes[0].tokens <= 500
    assert "[Note: only the beginning of 'long.txt' is included" in part.text
    assert len(part.text) < 4000


async def test_a_deleted_file_becomes_a_placeholder(client: httpx.AsyncClient, alice: UserSession,
                                                    app_state: AppState) -> None:
    image = await uploaded(client, alice, "gone.png", samples.image())
    content = await file_service_of(app_state).attachment_parts(alice.id, [image["id"]])
    assert (await client.delete(f"/api/files/{image['id']}", headers=alice.headers)).status_code == 204
    async with session_scope(app_state.sessions) as session:
        files = await load_attached_files(session, alice.id, [content])
    assert files == {}
    out = await model_parts(content, files, file_service_of(app_state).storage, document_token_budget=100)
    assert out.parts == [TextPart(text="[Attachment 'gone.png' was deleted and is no longer available.]")]
    assert out.notes[0].deleted


async def test_another_users_files_are_not_loaded(client: httpx.AsyncClient, alice: UserSession, bob: UserSession,
                                                  app_state: AppState) -> None:
    image = await uploaded(client, alice, "mine.png", samples.image())
    content = [{"type": "file", "file_id": image["id"], "name": "mine.png", "kind": "image"}]
    async with session_scope(app_state.sessions) as session:
        assert await load_attached_files(session, bob.id, [content]) == {}


@pytest.mark.parametrize(("model", "expected_part"), [
    ("openai/gpt-4o-mini", lambda url: {"type": "input_image", "image_url": url, "detail": "auto"}),
    ("double/gpt-4o-mini", lambda url: {"type": "image_url", "image_url": {"url": url, "detail": "auto"}}),
])
async def test_the_image_goes_out_in_the_wire_shape(client: httpx.AsyncClient, alice: UserSession,
                                                    app_state: AppState, openai_double: OpenAIDouble,
                                                    model: str, expected_part: object) -> None:
    image = await uploaded(client, alice, "cat.jpg", samples.image("JPEG", (300, 200)))
    _, out = await _parts_for(app_state, alice, [image["id"]])
    provider, name, _ = await app_state.models.resolve(model)
    await provider.complete(ModelRequest(model=name, messages=[ChatMessage(role="user", content=out.parts)]))
    body = openai_double.last_request.body
    url = out.parts[1].url  # type: ignore[union-attr]
    assert url.startswith("data:image/jpeg;base64,")
    sent = body["input"][0]["content"] if "input" in body else body["messages"][-1]["content"]
    assert sent[1] == expected_part(url)  # type: ignore[operator]
