"""Hostile uploads: spoofed types, polyglots, bombs, damaged files, oversized bodies, hostile names."""

from __future__ import annotations

import asyncio
import io
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from agentcreator.state import AppState
from tests.api.files_helpers import empty_storage, file_settings, stored_files, upload, uploaded
from tests.conftest import UserSession
from tests.files import samples


@pytest.fixture(autouse=True)
def _clean_storage(app_state: AppState) -> None:
    empty_storage(app_state)


async def _nothing_kept(client: httpx.AsyncClient, user: UserSession, app_state: AppState) -> None:
    assert stored_files(app_state) == []
    listing = (await client.get("/api/files", headers=user.headers)).json()
    assert listing["count"] == 0 and listing["storage"]["used_bytes"] == 0


@pytest.mark.parametrize(("name", "data", "code"), [
    ("photo.jpg", samples.image("PNG"), "file_type_mismatch"),
    ("photo.png", samples.image("JPEG"), "file_type_mismatch"),
    ("report.docx", samples.pdf(["x"]), "file_type_mismatch"),
    ("sheet.xlsx", samples.word(["not a workbook"]), "file_type_mismatch"),
    ("notes.txt", samples.image("GIF"), "file_type_mismatch"),
    ("image.png", b"just some text pretending", "file_type_mismatch"),
    ("tool.txt", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 4,
     "file_type_not_allowed"),
    ("archive.zip", samples.plain_zip(), "file_type_not_allowed"),
    ("archive.docx", samples.plain_zip(), "file_type_not_allowed"),
    ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "file_type_not_allowed"),
    ("photo.exe", samples.image("PNG"), "file_type_not_allowed"),
    ("empty.txt", b"", "empty_file"),
])
async def test_spoofed_and_unlisted_types_get_415(client: httpx.AsyncClient, alice: UserSession,
                                                  app_state: AppState, name: str, data: bytes, code: str) -> None:
    response = await upload(client, alice, name, data, content_type="image/png")  # the client's type is ignored
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    await _nothing_kept(client, alice, app_state)


async def test_a_gif_html_polyglot_named_html_is_refused(client: httpx.AsyncClient, alice: UserSession,
                                                         app_state: AppState) -> None:
    polyglot = b"GIF89a/*\x00\x00*/=1;<html><script>alert(document.cookie)</script></html>"
    response = await upload(client, alice, "page.html", polyglot)
    assert response.status_code == 415 and response.json()["error"]["code"] == "file_type_mismatch"
    as_gif = await upload(client, alice, "page.gif", polyglot)  # not a decodable GIF either
    assert as_gif.status_code == 422 and as_gif.json()["error"]["code"] == "damaged_file"
    await _nothing_kept(client, alice, app_state)


async def test_a_png_zip_polyglot_is_stored_without_its_payload(client: httpx.AsyncClient,
                                                                alice: UserSession) -> None:
    polyglot = samples.image("PNG") + samples.plain_zip()
    file = await uploaded(client, alice, "innocent.png", polyglot)
    content = (await client.get(f"/api/files/{file['id']}/content", headers=alice.headers)).content
    assert b"PK\x03\x04" not in content and b"readme.txt" not in content
    assert Image.open(io.BytesIO(content)).format == "PNG"


async def test_a_decompression_bomb_is_refused_before_decoding(client: httpx.AsyncClient, alice: UserSession,
                                                               app_state: AppState) -> None:
    bomb = samples.bomb_png(10_000)  # 100 million pixels in ~12 KB
    assert len(bomb) < 100_000
    response = await upload(client, alice, "bomb.png", bomb)
    assert response.status_code == 422 and response.json()["error"]["code"] == "image_too_large"
    await _nothing_kept(client, alice, app_state)


async def test_a_zip_bomb_office_file_is_refused(client: httpx.AsyncClient, alice: UserSession,
                                                 app_state: AppState) -> None:
    with file_settings(app_state, max_archive_inflated_bytes=8 * 1024 * 1024):
        response = await upload(client, alice, "bomb.docx", samples.zip_bomb_docx(16 * 1024 * 1024))
    assert response.status_code == 422 and response.json()["error"]["code"] == "archive_too_large"
    await _nothing_kept(client, alice, app_state)


async def test_a_truncated_image_is_refused(client: httpx.AsyncClient, alice: UserSession,
                                            app_state: AppState) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((300, 300), 80).convert("RGB").save(buffer, "JPEG", quality=95)
    data = buffer.getvalue()
    response = await upload(client, alice, "cut.jpg", data[: len(data) // 2])
    assert response.status_code == 422 and response.json()["error"]["code"] == "damaged_file"
    await _nothing_kept(client, alice, app_state)


async def test_invalid_json_is_refused(client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    response = await upload(client, alice, "data.json", b'{"open": ')
    assert response.status_code == 422 and response.json()["error"]["code"] == "damaged_file"
    await _nothing_kept(client, alice, app_state)


async def test_an_upload_over_the_limit_gets_413_and_leaves_nothing(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    with file_settings(app_state, max_file_bytes=1024 * 1024):
        response = await upload(client, alice, "big.txt", b"a" * (3 * 1024 * 1024))
        assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"
        just_under = await upload(client, alice, "fits.txt", b"b" * (1024 * 1024 - 10))
        assert just_under.status_code == 201
    assert (await client.delete(f"/api/files/{just_under.json()['id']}", headers=alice.headers)).status_code == 204
    await _nothing_kept(client, alice, app_state)


async def test_the_quota_counts_what_is_stored(client: httpx.AsyncClient, alice: UserSession,
                                               app_state: AppState) -> None:
    with file_settings(app_state, user_quota_bytes=1_300_000):
        await uploaded(client, alice, "one.txt", b"1" * 600_000)
        again = await upload(client, alice, "same.txt", b"1" * 600_000)  # the same bytes cost nothing
        assert again.status_code == 201
        over = await upload(client, alice, "two.txt", b"2" * 800_000)  # cut off while streaming
        assert over.status_code == 413 and over.json()["error"]["code"] == "quota_exceeded"
        assert over.json()["error"]["details"]["used_bytes"] == 600_000
        fits = await upload(client, alice, "three.txt", b"3" * 700_000)
        assert fits.status_code == 201
    assert len([p for p in stored_files(app_state) if p.parent.name != "tmp"]) == 4  # two files and their text


async def test_a_streamed_oversized_body_is_cut_off_with_flat_memory(
        live_client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    """No Content-Length (chunked): the limit is enforced while reading. 40 MB are offered against a
    1 MB limit; the process allocates a few chunks' worth, not the body."""
    chunk = b"x" * 65536
    boundary = "----hostile-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\n").encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(640):
            yield chunk
            await asyncio.sleep(0)
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {**alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    tracemalloc.start()
    try:
        with file_settings(app_state, max_file_bytes=1024 * 1024):
            try:
                response = await live_client.post("/api/files", headers=headers, content=body())
                status = response.status_code
            except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
                status = 413  # the server answered and closed while we were still sending
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes"
    await _nothing_kept(live_client, alice, app_state)


async def test_a_declared_oversized_body_is_refused_unread(client: httpx.AsyncClient, alice: UserSession) -> None:
    headers = {**alice.headers, "Content-Type": "multipart/form-data; boundary=x",
               "Content-Length": str(10 ** 10)}
    response = await client.post("/api/files", headers=headers, content=b"--x--")
    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"


@pytest.mark.parametrize(("body", "content_type", "code"), [
    (b"plain", "text/plain", "multipart_expected"),
    (b"--b\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nvision\r\n--b--\r\n",
     "multipart/form-data; boundary=b", "file_missing"),
    (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc",
     "multipart/form-data; boundary=b", "incomplete_upload"),
    (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc\r\n"
     b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\n\r\nabc\r\n--b--\r\n",
     "multipart/form-data; boundary=b", "one_file_per_request"),
    (b"--b\r\nContent-Disposition: form-data; name=\"other\"; filename=\"a.txt\"\r\n\r\nabc\r\n--b--\r\n",
     "multipart/form-data; boundary=b", "unexpected_part"),
])
async def test_malformed_uploads_get_400(client: httpx.AsyncClient, alice: UserSession, app_state: AppState,
                                         body: bytes, content_type: str, code: str) -> None:
    response = await client.post("/api/files", headers={**alice.headers, "Content-Type": content_type},
                                 content=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    await _nothing_kept(client, alice, app_state)


@pytest.mark.parametrize(("raw", "stored"), [
    ("../../x.txt", "x.txt"),
    ("..\\..\\windows\\evil.txt", "evil.txt"),
    ("/etc/passwd.txt", "passwd.txt"),
    ("a\x00b\x07c.txt", "abc.txt"),
    ("invoice\u202etxt.exe.txt", "invoicetxt.exe.txt"),
    ("x" * 1000 + ".txt", "x" * 196 + ".txt"),
    ("..", "file"),
])
async def test_hostile_names_are_cleaned(client: httpx.AsyncClient, alice: UserSession, app_state: AppState,
                                         raw: str, stored: str) -> None:
    boundary = "nameboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{raw}\"\r\n\r\n"
            f"hello\r\n--{boundary}--\r\n").encode()
    response = await client.post("/api/files", content=body, headers={
        **alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == stored
    root = stored_files(app_state)[0].parents[1]
    assert all(root in p.parents for p in stored_files(app_state))
    download = await client.get(f"/api/files/{response.json()['id']}/content", headers=alice.headers)
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=\"") and "/" not in disposition.split(";")[1]
    assert "\u202e" not in disposition and "\x00" not in disposition


async def test_non_ascii_names_use_rfc_5987(client: httpx.AsyncClient, alice: UserSession) -> None:
    file = await uploaded(client, alice, "r\u00e9sum\u00e9 final;v2.txt", b"cv")
    download = await client.get(f"/api/files/{file['id']}/content", headers=alice.headers)
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"resume final_v2.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final%3Bv2.txt")
