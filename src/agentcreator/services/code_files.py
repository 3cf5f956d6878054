"""The code interpreter and the user's files: the conversation's files go into the sandbox at
``/mnt/data``, and the files the code writes there become the user's files on the conversation (images
show in the chat, other files as downloads). An output the file rules refuse (type, size, quota) is
left out, and the model and the user read why."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from agentcreator.core.errors import AppError
from agentcreator.db.session import session_scope
from agentcreator.files.storage import LocalFileStorage
from agentcreator.sandbox import InputFile
from agentcreator.services.files import FileService, attachment_part, files_of_conversation
from agentcreator.tools import ToolContext, ToolResult

log = logging.getLogger(__name__)


class CodeFiles:
    def __init__(self, files: FileService) -> None:
        self._files = files

    async def inputs(self, context: ToolContext) -> list[InputFile]:
        """The files attached to the conversation (their original bytes), for ``/mnt/data``."""
        storage = self._files.storage
        if not context.conversation_id or not isinstance(storage, LocalFileStorage):
            return []
        async with session_scope(self._files.sessions) as session:
            rows = await files_of_conversation(session, context.user_id, context.conversation_id)
        return [InputFile(row.name, storage.path_of(row.storage_key)) for row in rows]

    async def keep_outputs(self, context: ToolContext, result: ToolResult) -> ToolResult:
        """Store the files the code wrote and put file parts in place of the placeholders."""
        outputs: list[dict[str, Any]] = list(result.metadata.get("files") or [])
        if not outputs or not context.conversation_id:
            return result
        parts = [p for p in result.parts if p.get("source") != "code_interpreter"]
        refused: list[str] = []
        for output in outputs:
            try:
                stored = await self._files.store_local(context.user_id, Path(output["path"]), output["name"],
                                                       context.conversation_id)
            except AppError as exc:
                refused.append(f"{output['name']}: {exc.message}")
                continue
            parts.append(attachment_part(stored) | {"source": "code_interpreter"})
        result.parts = parts
        if refused:
            result.output += "\n[Not kept for the user: " + "; ".join(refused) + "]"
        return result
