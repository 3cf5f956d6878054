"""Where a file is used: the messages whose parts point to it (owner-scoped). A deleted file leaves its
part in the message, and the conversation still loads."""

from __future__ import annotations

import httpx
import pytest

from agentcreator.api.deps import file_service_of
from agentcreator.db.models import Message
from agentcreator.db.session import transaction
from agentcreator.repositories import messages as message_repo
from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat
from tests.api.files_helpers import empty_storage, uploaded
from tests.conftest import UserSession
from tests.files import samples


@pytest.fixture(autouse=True)
def _clean_storage(app_state: AppState) -> None:
    empty_storage(app_state)


async def _message_with(app_state: AppState, user: UserSession, conversation_id: str, file_ids: list[str]) -> str:
    """A user message as a send with these files stores it (the chat service writes it once wired)."""
    parts = [{"type": "text", "text": "see attached"}]
    parts += await file_service_of(app_state).attachment_parts(user.id, file_ids)
    async with transaction(app_state.sessions) as session:
        message = await message_repo.add(session, Message(conversation_id=conversation_id, role="user",
                                                          content=parts, text="see attached", status="complete"))
    return message.id


async def test_files_list_the_messages_that_use_them(client: httpx.AsyncClient, alice: UserSession,
                                                     bob: UserSession, app_state: AppState) -> None:
    _, conversation = await make_chat(client, alice)
    used = await uploaded(client, alice, "used.png", samples.image())
    unused = await uploaded(client, alice, "unused.txt", b"nobody points here")
    message_id = await _message_with(app_state, alice, conversation["id"], [used["id"]])
    listing = (await client.get("/api/files", headers=alice.headers)).json()
    by_id = {f["id"]: f for f in listing["data"]}
    assert by_id[used["id"]]["used_in"] == [{"message_id": message_id, "conversation_id": conversation["id"]}]
    assert by_id[unused["id"]]["used_in"] == []
    single = (await client.get(f"/api/files/{used['id']}", headers=alice.headers)).json()
    assert single["used_in"] == by_id[used["id"]]["used_in"]
    # bob's message naming alice's file id (text only) is not a use, and bob sees none of it
    _, bobs_conversation = await make_chat(client, bob)
    async with transaction(app_state.sessions) as session:
        await message_repo.add(session, Message(conversation_id=bobs_conversation["id"], role="user",
                                                content=[{"type": "text", "text": used["id"]}], text=used["id"]))
    assert (await client.get(f"/api/files/{used['id']}", headers=alice.headers)).json()["used_in"] == \
        single["used_in"]
    assert (await client.get("/api/files", headers=bob.headers)).json()["data"] == []


async def test_history_loads_after_its_file_is_deleted(client: httpx.AsyncClient, alice: UserSession,
                                                       app_state: AppState) -> None:
    _, conversation = await make_chat(client, alice)
    image = await uploaded(client, alice, "soon-gone.png", samples.image())
    await _message_with(app_state, alice, conversation["id"], [image["id"]])
    assert (await client.delete(f"/api/files/{image['id']}", headers=alice.headers)).status_code == 204
    listed = await client.get(f"/api/conversations/{conversation['id']}/messages", headers=alice.headers)
    assert listed.status_code == 200
    assert listed.json()["data"][0]["content"][1]["file_id"] == image["id"]
    thread = await client.get(f"/api/conversations/{conversation['id']}/thread", headers=alice.headers)
    assert thread.status_code == 200 and len(thread.json()["data"]) == 1
