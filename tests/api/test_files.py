"""Uploads of real files of every accepted type, through real multipart requests."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from agentcreator.state import AppState
from tests.api.files_helpers import empty_storage, stored_files, upload, uploaded
from tests.conftest import UserSession
from tests.files import samples


@pytest.fixture(autouse=True)
def _clean_storage(app_state: AppState) -> None:
    empty_storage(app_state)


async def _text(client: httpx.AsyncClient, user: UserSession, file_id: str) -> bytes:
    response = await client.get(f"/api/files/{file_id}/content", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.content


@pytest.mark.parametrize(("name", "data", "fmt", "mime"), [
    ("photo.png", samples.image("PNG"), "png", "image/png"),
    ("photo.jpg", samples.image("JPEG"), "jpeg", "image/jpeg"),
    ("photo.webp", samples.image("WEBP"), "webp", "image/webp"),
    ("photo.gif", samples.image("GIF"), "gif", "image/gif"),
])
async def test_images_are_stored_with_a_model_copy_and_a_thumbnail(
        client: httpx.AsyncClient, alice: UserSession, name: str, data: bytes, fmt: str, mime: str) -> None:
    file = await uploaded(client, alice, name, data)
    assert (file["kind"], file["format"], file["mime"], file["purpose"]) == ("image", fmt, mime, "vision")
    assert (file["width"], file["height"], file["has_thumbnail"]) == (64, 48, True)
    content = await client.get(f"/api/files/{file['id']}/content", headers=alice.headers)
    assert content.status_code == 200
    assert content.headers["content-type"] == mime
    assert content.headers["content-disposition"].startswith("inline;")
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert Image.open(io.BytesIO(content.content)).size == (64, 48)
    thumbnail = await client.get(f"/api/files/{file['id']}/thumbnail", headers=alice.headers)
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/webp"
    assert max(Image.open(io.BytesIO(thumbnail.content)).size) <= 256


async def test_exif_is_removed_and_orientation_applied(client: httpx.AsyncClient, alice: UserSession) -> None:
    file = await uploaded(client, alice, "rotated.jpg", samples.jpeg_with_exif((80, 40), orientation=6))
    assert (file["width"], file["height"]) == (40, 80)  # turned upright
    stored = Image.open(io.BytesIO(await _text(client, alice, file["id"])))
    assert stored.size == (40, 80)
    assert dict(stored.getexif()) == {}
    assert b"SpyCam" not in await _text(client, alice, file["id"])


async def test_a_large_image_is_scaled_for_models(client: httpx.AsyncClient, alice: UserSession,
                                                  app_state: AppState) -> None:
    file = await uploaded(client, alice, "wide.png", samples.image("PNG", (3000, 1000)))
    assert (file["width"], file["height"]) == (3000, 1000)
    from agentcreator.api.deps import file_service_of

    service = file_service_of(app_state)
    row, _ = await service.get(alice.id, file["id"])
    assert (row.model_width, row.model_height) == (2048, 683)
    model_copy = Image.open(io.BytesIO(await service.storage.read_bytes(row.model_key)))
    assert model_copy.size == (2048, 683)


async def test_an_animated_gif_gives_the_model_its_first_frame(client: httpx.AsyncClient, alice: UserSession,
                                                              app_state: AppState) -> None:
    from agentcreator.api.deps import file_service_of

    file = await uploaded(client, alice, "anim.gif", samples.animated_gif(3))
    stored = Image.open(io.BytesIO(await _text(client, alice, file["id"])))
    assert stored.n_frames == 3  # the download keeps the animation
    service = file_service_of(app_state)
    row, _ = await service.get(alice.id, file["id"])
    model_copy = Image.open(io.BytesIO(await service.storage.read_bytes(row.model_key)))
    assert getattr(model_copy, "n_frames", 1) == 1
    assert model_copy.convert("RGB").getpixel((5, 5))[0] > 200  # the first frame is red


@pytest.mark.parametrize(("name", "data", "fmt", "pages", "expected"), [
    ("report.pdf", samples.pdf(["First page text", "Second page text"]), "pdf", 2, "Second page text"),
    ("letter.docx", samples.word(["Dear reader,", "the docx body."], [["cell a", "cell b"]]), "docx", None,
     "cell a\tcell b"),
    ("deck.pptx", samples.slides(["Slide one", "Slide two", "Slide three"]), "pptx", 3, "Slide three"),
    ("book.xlsx", samples.workbook({"Costs": [["item", "price"], ["tea", 3]], "Notes": [["ok"]]}), "xlsx", 2,
     "tea\t3"),
    ("table.csv", b"name,qty\nwidget,4\n", "csv", None, "widget,4"),
    ("notes.txt", "caf\u00e9 notes\n".encode(), "txt", None, "caf\u00e9 notes"),
    ("readme.md", b"# Title\n\nSome *markdown*.\n", "md", None, "Some *markdown*."),
    ("page.html", b"<html><head><script>alert(1)</script></head><body><p>Visible</p></body></html>", "html",
     None, "Visible"),
    ("data.json", b'{"answer": 42}', "json", None, '"answer": 42'),
    ("main.py", b"def main():\n    return 1\n", "code", None, "def main()"),
])
async def test_documents_have_their_text_extracted(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState, name: str, data: bytes, fmt: str,
        pages: int | None, expected: str) -> None:
    from agentcreator.api.deps import file_service_of

    file = await uploaded(client, alice, name, data)
    assert (file["kind"], file["format"], file["purpose"], file["page_count"]) == ("document", fmt, "assistants",
                                                                                    pages)
    assert file["text_chars"] > 0 and file["text_truncated"] is False
    service = file_service_of(app_state)
    row, _ = await service.get(alice.id, file["id"])
    text = (await service.storage.read_bytes(row.text_key)).decode()
    assert expected in text
    if fmt == "html":
        assert "alert" not in text
    download = await client.get(f"/api/files/{file['id']}/content", headers=alice.headers)
    assert download.content == data
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["content-security-policy"] == "default-src 'none'; sandbox"


async def test_the_same_bytes_are_stored_once(client: httpx.AsyncClient, alice: UserSession, bob: UserSession,
                                              app_state: AppState) -> None:
    data = samples.pdf(["same"])
    first = await uploaded(client, alice, "a.pdf", data)
    stored_after_first = stored_files(app_state)
    second = await uploaded(client, alice, "b.pdf", data)
    assert second["id"] != first["id"] and second["sha256"] == first["sha256"]
    assert stored_files(app_state) == stored_after_first
    listing = (await client.get("/api/files", headers=alice.headers)).json()
    assert listing["count"] == 2 and listing["storage"]["used_bytes"] == len(data)
    await uploaded(client, bob, "a.pdf", data)  # another owner's copy is their own
    assert len(stored_files(app_state)) > len(stored_after_first)
    # deleting one of alice's two rows keeps the bytes for the other
    assert (await client.delete(f"/api/files/{first['id']}", headers=alice.headers)).status_code == 204
    assert (await client.get(f"/api/files/{second['id']}/content", headers=alice.headers)).content == data


async def test_purpose_is_inferred_or_checked(client: httpx.AsyncClient, alice: UserSession) -> None:
    image = await uploaded(client, alice, "x.png", samples.image(), purpose="assistants")
    assert image["purpose"] == "assistants"
    refused = await upload(client, alice, "x.txt", b"text", purpose="vision")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_purpose"


async def test_list_get_and_delete(client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    file = await uploaded(client, alice, "x.png", samples.image())
    got = await client.get(f"/api/files/{file['id']}", headers=alice.headers)
    assert got.status_code == 200 and got.json()["name"] == "x.png" and got.json()["used_in"] == []
    listing = (await client.get("/api/files", headers=alice.headers)).json()
    assert [f["id"] for f in listing["data"]] == [file["id"]]
    assert listing["storage"]["quota_bytes"] == 1024 ** 3 and listing["storage"]["used_bytes"] == file["size"]
    assert (await client.delete(f"/api/files/{file['id']}", headers=alice.headers)).status_code == 204
    assert (await client.get(f"/api/files/{file['id']}", headers=alice.headers)).status_code == 404
    assert [p for p in stored_files(app_state) if p.parent.name != "tmp"] == []
    thumbnail = await client.get(f"/api/files/{file['id']}/thumbnail", headers=alice.headers)
    assert thumbnail.status_code == 404


async def test_documents_have_no_thumbnail(client: httpx.AsyncClient, alice: UserSession) -> None:
    file = await uploaded(client, alice, "x.txt", b"hello")
    response = await client.get(f"/api/files/{file['id']}/thumbnail", headers=alice.headers)
    assert response.status_code == 404 and response.json()["error"]["message"] == "Thumbnail not found"
