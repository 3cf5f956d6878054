"""Chat turns over HTTP: send (SSE or wait for the answer), regenerate, edit, submit tool outputs, stop,
resume, thread.

Send, regenerate and edit take no ``OwnedConversation``: the chat service reads the conversation
scoped to its owner anyway (another user's is a 404 from there), and the route holds no session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from agentcreator.api.cursors import checked_event_id
from agentcreator.api.deps import (
    TURN_ROUTE_OPENAPI,
    AppStateDep,
    CurrentUser,
    OwnedConversation,
    SessionDep,
    TurnCallerDep,
    file_service_of,
    image_importer_of,
)
from agentcreator.api.schemas.chat import (
    MessageCreate,
    StopResult,
    ThreadPublic,
    ToolOutputsSubmit,
    TurnResult,
)
from agentcreator.api.sse import sse_response
from agentcreator.chat.events import TERMINAL_TYPES, MessageSnapshot
from agentcreator.chat.listen import follow
from agentcreator.chat.service import StartedTurn
from agentcreator.chat.thread import build_thread
from agentcreator.core.errors import NotFound
from agentcreator.db.session import session_scope
from agentcreator.repositories import turns as turn_repo
from agentcreator.services.attachments import TurnParts, start_with_parts
from agentcreator.services.fair_use import admitted
from agentcreator.state import AppState

router = APIRouter(prefix="/api/conversations/{conversation_id}", tags=["chat"])

_STREAM_DOC: dict[int | str, dict[str, object]] = {
    200: {"description": "With `Accept: text/event-stream`: the live event stream of the turn",
          "content": {"text/event-stream": {}}},
}


def _wants_stream(accept: str | None) -> bool:
    return bool(accept) and "text/event-stream" in (accept or "")


async def _respond(state: AppState, request: Request, started: StartedTurn, stream: bool) -> TurnResult | StreamingResponse:
    conversation_id = started.turn.conversation_id
    if stream:
        return sse_response(state.bus, conversation_id, None, state.settings.chat.heartbeat_seconds)
    final: MessageSnapshot | None = None
    async for item in follow(state.bus, conversation_id, None, heartbeat_seconds=1.0):
        if isinstance(item, tuple):
            _, event = item
            if event["type"] in TERMINAL_TYPES and event["message"]["id"] == started.assistant_message.id:
                final = MessageSnapshot.model_validate(event["message"])
                break
        elif await request.is_disconnected():
            started.turn.stop("client_gone")
            break
    await started.turn.finished.wait()
    if final is None:
        async with session_scope(state.sessions) as session:
            message = await turn_repo.get_message(session, conversation_id, started.assistant_message.id)
            if message is None:
                raise NotFound("Message")
            final = MessageSnapshot.model_validate(message)
    return TurnResult(conversation_id=conversation_id, continued_from=started.continued_from,
                      user_message=started.user_message, assistant_message=final, run_id=started.run_id or None)


async def _start(state: AppState, user_id: str, conversation_id: str, body: MessageCreate,
                 begin: Callable[[list[dict[str, Any]]], Awaitable[StartedTurn]]) -> StartedTurn:
    """Within the user's fair-use admission: the message's parts checked before anything is saved (404
    for another user's file, 422 for images to a model without vision), image URLs fetched through the
    SSRF guard and stored as files, then the turn started; its files then belong to its conversation."""
    prepared: list[TurnParts] = []

    async def start() -> StartedTurn:
        started, parts = await start_with_parts(file_service_of(state), image_importer_of(state), state.models,
                                                state.sessions, user_id, conversation_id, body.parts(),
                                                body.file_ids, begin)
        prepared.append(parts)
        return started

    started = await admitted(state.fair_use, state.rate_limiter, user_id, start)
    await file_service_of(state).attach(user_id, prepared[0].file_ids, started.turn.conversation_id)
    return started


@router.post("/messages", operation_id="chat_send", status_code=201, response_model=TurnResult,
             responses=_STREAM_DOC, openapi_extra=TURN_ROUTE_OPENAPI)
async def send(conversation_id: str, body: MessageCreate, caller: TurnCallerDep,
               request: Request) -> TurnResult | StreamingResponse:
    """Send a message and run the assistant's turn."""
    state, claims, accept = caller
    started = await _start(state, claims.user_id, conversation_id, body, lambda parts: state.chat.send(
        claims.user_id, conversation_id, parts, access=claims))
    return await _respond(state, request, started, _wants_stream(accept))


@router.post("/messages/{message_id}/regenerate", operation_id="chat_regenerate", status_code=201,
             response_model=TurnResult, responses=_STREAM_DOC, openapi_extra=TURN_ROUTE_OPENAPI)
async def regenerate(message_id: str, conversation_id: str, caller: TurnCallerDep,
                     request: Request) -> TurnResult | StreamingResponse:
    """Write a new version of an assistant answer; earlier versions stay browsable."""
    state, claims, accept = caller
    started = await admitted(state.fair_use, state.rate_limiter, claims.user_id, lambda: state.chat.regenerate(
        claims.user_id, conversation_id, message_id, access=claims))
    return await _respond(state, request, started, _wants_stream(accept))


@router.post("/messages/{message_id}/edit", operation_id="chat_edit", status_code=201,
             response_model=TurnResult, responses=_STREAM_DOC, openapi_extra=TURN_ROUTE_OPENAPI)
async def edit(message_id: str, conversation_id: str, body: MessageCreate, caller: TurnCallerDep,
               request: Request) -> TurnResult | StreamingResponse:
    """Resend an edited user message as a new branch from that point."""
    state, claims, accept = caller
    started = await _start(state, claims.user_id, conversation_id, body, lambda parts: state.chat.edit(
        claims.user_id, conversation_id, message_id, parts, access=claims))
    return await _respond(state, request, started, _wants_stream(accept))


@router.post("/runs/{run_id}/tool_outputs", operation_id="chat_submit_tool_outputs", status_code=200,
             response_model=TurnResult, responses=_STREAM_DOC, openapi_extra=TURN_ROUTE_OPENAPI)
async def submit_tool_outputs(run_id: str, conversation_id: str, body: ToolOutputsSubmit, caller: TurnCallerDep,
                              request: Request) -> TurnResult | StreamingResponse:
    """Give a run paused in `requires_action` the outputs of its client-side function calls, one for
    each; the run goes on (the next model round reads them) and is answered like a send."""
    state, claims, accept = caller
    outputs = body.outputs()
    started = await admitted(state.fair_use, state.rate_limiter, claims.user_id, lambda: state.chat.submit_tool_outputs(
        claims.user_id, conversation_id, run_id, outputs, access=claims))
    return await _respond(state, request, started, _wants_stream(accept))


@router.post("/messages/{message_id}/select", operation_id="chat_select_version", response_model=ThreadPublic)
async def select_version(message_id: str, conversation: OwnedConversation, user: CurrentUser,
                         state: AppStateDep, session: SessionDep) -> ThreadPublic:
    """Show the branch through this message version."""
    await state.chat.select_version(user.id, conversation.id, message_id)
    await session.commit()  # end this read transaction: MariaDB's repeatable read would keep the old snapshot
    await session.refresh(conversation)  # the service changed the active branch in its own transaction
    return await thread(conversation, session)


@router.post("/stop", operation_id="chat_stop", response_model=StopResult)
async def stop(conversation: OwnedConversation, state: AppStateDep) -> StopResult:
    """Stop the running answer; the text written so far is kept and marked stopped."""
    return StopResult(stopped=await state.chat.stop(conversation.id))


@router.get("/events", operation_id="chat_events", responses={200: {"content": {"text/event-stream": {}}}})
async def events(conversation: OwnedConversation, state: AppStateDep,
                 last_event_id: Annotated[str | None, Header()] = None,
                 after: Annotated[str | None, Query(description="Same as the Last-Event-ID header")] = None,
                 ) -> StreamingResponse:
    """Follow the current (or last) turn's events; with Last-Event-ID, only what came after it."""
    cursor = checked_event_id(last_event_id or after)
    return sse_response(state.bus, conversation.id, cursor, state.settings.chat.heartbeat_seconds)


@router.get("/thread", operation_id="chat_thread", response_model=ThreadPublic)
async def thread(conversation: OwnedConversation, session: SessionDep) -> ThreadPublic:
    """The branch being shown, oldest first, with the versions of each message."""
    messages = await turn_repo.all_messages(session, conversation.id)
    leaf = conversation.active_leaf_id
    items = build_thread(messages, leaf)
    data = [{**MessageSnapshot.model_validate(i["message"]).model_dump(), "version": i["version"]} for i in items]
    return ThreadPublic.model_validate({
        "conversation_id": conversation.id, "active_leaf_id": leaf,
        "running": any(i["message"].status == "streaming" for i in items), "data": data})


@router.get("/messages/{message_id}/context", operation_id="chat_message_context")
async def message_context(message_id: str, conversation: OwnedConversation, session: SessionDep) -> dict[str, object]:
    """Exactly what the model was sent for this answer: kept and dropped messages with token counts."""
    message = await turn_repo.get_message(session, conversation.id, message_id)
    if message is None or message.role != "assistant":
        raise NotFound("Message")
    return {"message_id": message.id, "context": message.context}
