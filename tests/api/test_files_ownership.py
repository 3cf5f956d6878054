"""Another user's file is a 404 on every route that takes a file id, and the owner's file is unchanged.
Deleting a conversation, an assistant or a user deletes their files from the storage."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import delete, select

from agentcreator.api.deps import file_service_of
from agentcreator.db.models import File, User
from agentcreator.db.session import session_scope, transaction
from agentcreator.services.files import files_of_user
from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat
from tests.api.files_helpers import empty_storage, stored_files, uploaded
from tests.conftest import UserSession
from tests.files import samples
from tests.llm.openai_double import OpenAIDouble, Script, ToolCallScript

ROUTES = [("GET", ""), ("DELETE", ""), ("GET", "/content"), ("GET", "/thumbnail")]


@pytest.fixture(autouse=True)
def _clean_storage(app_state: AppState) -> None:
    empty_storage(app_state)


@pytest.mark.parametrize(("method", "suffix"), ROUTES)
async def test_another_users_file_is_not_found(client: httpx.AsyncClient, alice: UserSession, bob: UserSession,
                                               app_state: AppState, method: str, suffix: str) -> None:
    file = await uploaded(client, alice, "private.png", samples.image())
    before = (await client.get(f"/api/files/{file['id']}", headers=alice.headers)).json()
    on_disk = stored_files(app_state)
    response = await client.request(method, f"/api/files/{file['id']}{suffix}", headers=bob.headers)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert (await client.get(f"/api/files/{file['id']}", headers=alice.headers)).json() == before
    assert stored_files(app_state) == on_disk
    assert (await client.get("/api/files", headers=bob.headers)).json()["count"] == 0
    assert (await client.request(method, f"/api/files/{file['id']}{suffix}")).status_code == 401


@pytest.mark.parametrize("file_id", ["0" * 32, "not-an-id", "A" * 32, "x" * 300])
async def test_unknown_ids_are_not_found(client: httpx.AsyncClient, alice: UserSession, file_id: str) -> None:
    for method, suffix in ROUTES:
        response = await client.request(method, f"/api/files/{file_id}{suffix}", headers=alice.headers)
        assert response.status_code == 404, (method, suffix, response.text)


async def test_deleting_a_conversation_deletes_its_files(client: httpx.AsyncClient, alice: UserSession,
                                                        app_state: AppState) -> None:
    _, conversation = await make_chat(client, alice)
    attached = await uploaded(client, alice, "in-chat.png", samples.image())
    kept = await uploaded(client, alice, "elsewhere.txt", b"not attached")
    await file_service_of(app_state).attach(alice.id, [attached["id"]], conversation["id"])
    assert (await client.get(f"/api/files/{attached['id']}", headers=alice.headers)).json()["conversation_id"] \
        == conversation["id"]
    before = len(stored_files(app_state))
    response = await client.delete(f"/api/conversations/{conversation['id']}", headers=alice.headers)
    assert response.status_code == 204
    assert (await client.get(f"/api/files/{attached['id']}", headers=alice.headers)).status_code == 404
    assert (await client.get(f"/api/files/{kept['id']}", headers=alice.headers)).status_code == 200
    assert len(stored_files(app_state)) == before - 3  # the image, its model copy and its thumbnail


async def test_deleting_an_assistant_deletes_its_files(client: httpx.AsyncClient, alice: UserSession,
                                                      app_state: AppState) -> None:
    assistant, _ = await make_chat(client, alice)
    file = await uploaded(client, alice, "manual.pdf", samples.pdf(["assistant knowledge"]))
    async with transaction(app_state.sessions) as session:  # assistant files come with the knowledge issue
        row = (await session.execute(select(File).where(File.id == file["id"]))).scalar_one()
        row.assistant_id = assistant["id"]
    assert len(stored_files(app_state)) == 2  # the PDF and its text
    response = await client.delete(f"/api/assistants/{assistant['id']}", headers=alice.headers)
    assert response.status_code == 204
    assert (await client.get(f"/api/files/{file['id']}", headers=alice.headers)).status_code == 404
    assert stored_files(app_state) == []


async def test_deleting_a_user_deletes_their_files(client: httpx.AsyncClient, alice: UserSession, bob: UserSession,
                                                  app_state: AppState) -> None:
    await uploaded(client, alice, "a.png", samples.image())
    shared_bytes = samples.pdf(["same bytes, two owners"])
    await uploaded(client, alice, "a.pdf", shared_bytes)
    bobs = await uploaded(client, bob, "b.pdf", shared_bytes)
    service = file_service_of(app_state)
    async with transaction(app_state.sessions) as session:
        doomed = await files_of_user(session, alice.id)
        await session.execute(delete(User).where(User.id == alice.id))
    await service.discard_unused(doomed)
    async with session_scope(app_state.sessions) as session:
        left = list((await session.execute(select(File))).scalars())
    assert [f.id for f in left] == [bobs["id"]]
    assert sorted(p.name for p in stored_files(app_state)) == sorted(left[0].keys)
    download = await client.get(f"/api/files/{bobs['id']}/content", headers=bob.headers)
    assert download.content == shared_bytes


async def _code_session(client: httpx.AsyncClient, user: UserSession, double: OpenAIDouble,
                        app_state: AppState) -> str:
    """A conversation of ``user`` whose code interpreter session is live, holding a copy of a file."""
    _, conversation = await make_chat(client, user, tools=[{"type": "code_interpreter"}])
    await client.patch(f"/api/conversations/{conversation['id']}", headers=user.headers, json={"title": "T"})
    data = await uploaded(client, user, "data.csv", b"a,b\n1,2\n")
    double.push(Script(tool_calls=[ToolCallScript("code_interpreter", [json.dumps({"code": "open('data.csv').read()"})])]),
                Script(text=["ok"]))
    response = await client.post(f"/api/conversations/{conversation['id']}/messages", headers=user.headers,
                                 json={"content": "read it", "file_ids": [data["id"]]})
    call = next(p for p in response.json()["assistant_message"]["content"] if p["type"] == "tool_call")
    assert "a,b" in call["output"], call
    assert f"conversation:{conversation['id']}" in app_state.sandbox._sessions
    return str(conversation["id"])


async def test_deleting_a_conversation_ends_its_code_interpreter_session(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    conversation_id = await _code_session(client, alice, openai_double, app_state)
    work_dir = app_state.sandbox._sessions[f"conversation:{conversation_id}"].work_dir
    assert (work_dir / "data.csv").exists()
    assert (await client.delete(f"/api/conversations/{conversation_id}", headers=alice.headers)).status_code == 204
    assert f"conversation:{conversation_id}" not in app_state.sandbox._sessions
    assert not work_dir.exists()  # the copy of the deleted file is gone with it
    assert stored_files(app_state) == []


async def test_the_admin_deleting_a_user_deletes_their_files_and_code_sessions(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        app_state: AppState) -> None:
    shared_bytes = samples.pdf(["same bytes, two owners"])
    alices = await uploaded(client, alice, "a.pdf", shared_bytes)
    await uploaded(client, bob, "b.pdf", shared_bytes)
    await uploaded(client, bob, "b.png", samples.image())
    conversation_id = await _code_session(client, bob, openai_double, app_state)
    response = await client.request("DELETE", f"/api/admin/users/{bob.id}", headers=alice.headers,
                                     json={"confirm_email": bob.email})
    assert response.status_code == 204, response.text
    async with session_scope(app_state.sessions) as session:
        left = list((await session.execute(select(File))).scalars())
    assert [f.id for f in left] == [alices["id"]]
    assert sorted(p.name for p in stored_files(app_state)) == sorted(left[0].keys)  # bob's bytes left the disk
    assert (await client.get(f"/api/files/{alices['id']}/content", headers=alice.headers)).content == shared_bytes
    assert f"conversation:{conversation_id}" not in app_state.sandbox._sessions
