"""Assistants of the current user. Ownership is the ``OwnedAssistant`` dependency: another user's
assistant is "not found", never "forbidden"."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import ValidationError as PydanticValidationError

from agentcreator.api.deps import (
    AppStateDep,
    CurrentUser,
    FileServiceDep,
    ModelValidatorDep,
    OwnedAssistant,
    SessionDep,
)
from agentcreator.api.schemas.assistants import (
    AssistantCreate,
    AssistantExport,
    AssistantPublic,
    AssistantsPublic,
    AssistantUpdate,
    FunctionImport,
    FunctionsPublic,
    FunctionTool,
)
from agentcreator.services.assistants import AssistantService, import_openapi_functions
from agentcreator.services.files import files_of_assistant

router = APIRouter(prefix="/api/assistants", tags=["assistants"])

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


async def assistant_service(session: SessionDep, user: CurrentUser, state: AppStateDep,
                            validate_model: ModelValidatorDep) -> AssistantService:
    return AssistantService(session, user.id, state.settings, validate_model, state.secrets)


AssistantServiceDep = Annotated[AssistantService, Depends(assistant_service)]


@router.get("", operation_id="assistants_list")
async def list_assistants(
    service: AssistantServiceDep,
    q: Annotated[str | None, Query(max_length=200, description="Search in name and description")] = None,
    tag: Annotated[str | None, Query(max_length=50, description="Only assistants with this tag")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AssistantsPublic:
    items, count = await service.list(q=q, tag=tag, limit=limit, offset=offset)
    return AssistantsPublic(data=[AssistantPublic.model_validate(a) for a in items], count=count)


@router.post("", operation_id="assistants_create", status_code=status.HTTP_201_CREATED)
async def create_assistant(body: AssistantCreate, service: AssistantServiceDep) -> AssistantPublic:
    return AssistantPublic.model_validate(await service.create(body.model_dump()))


@router.post("/import", operation_id="assistants_import", status_code=status.HTTP_201_CREATED)
async def import_assistant(body: AssistantExport, service: AssistantServiceDep) -> AssistantPublic:
    return AssistantPublic.model_validate(await service.import_document(body.assistant.model_dump()))


@router.post("/functions/import", operation_id="assistants_import_functions")
async def import_functions(body: FunctionImport, user: CurrentUser) -> FunctionsPublic:
    """Function tool configs from an OpenAPI 3 document, one per operation; nothing is saved. Add the
    ones you want to an assistant's ``tools`` (with their headers) through create or update."""
    found, skipped = await import_openapi_functions(body.document, body.base_url)
    functions: list[FunctionTool] = []
    for config in found:
        try:
            functions.append(FunctionTool.model_validate(config))
        except PydanticValidationError as exc:  # e.g. a parameter schema that is not an object
            operation = f"{config['endpoint']['method']} {config['endpoint']['url']}"[:200]
            skipped.append({"operation": operation, "reason": exc.errors()[0]["msg"][:300]})
    return FunctionsPublic.model_validate({"data": functions, "count": len(functions), "skipped": skipped})


@router.get("/{assistant_id}", operation_id="assistants_get")
async def get_assistant(assistant: OwnedAssistant) -> AssistantPublic:
    return AssistantPublic.model_validate(assistant)


@router.patch("/{assistant_id}", operation_id="assistants_update")
async def update_assistant(assistant: OwnedAssistant, body: AssistantUpdate,
                           service: AssistantServiceDep) -> AssistantPublic:
    updated = await service.update(assistant, body.model_dump(exclude_unset=True))
    return AssistantPublic.model_validate(updated)


@router.delete("/{assistant_id}", operation_id="assistants_delete", status_code=status.HTTP_204_NO_CONTENT)
async def delete_assistant(assistant: OwnedAssistant, service: AssistantServiceDep, files: FileServiceDep) -> None:
    """Delete the assistant and its files (its conversations stay readable)."""
    doomed = await files_of_assistant(service.session, assistant.owner_id, assistant.id)
    await service.delete(assistant)  # the file rows go by the foreign key
    await files.discard_unused(doomed)


@router.post("/{assistant_id}/duplicate", operation_id="assistants_duplicate",
             status_code=status.HTTP_201_CREATED)
async def duplicate_assistant(assistant: OwnedAssistant, service: AssistantServiceDep) -> AssistantPublic:
    return AssistantPublic.model_validate(await service.duplicate(assistant))


@router.get("/{assistant_id}/export", operation_id="assistants_export")
async def export_assistant(assistant: OwnedAssistant, service: AssistantServiceDep,
                           response: Response) -> AssistantExport:
    document = AssistantExport.model_validate(service.export(assistant))
    response.headers["Content-Disposition"] = _attachment(assistant.name)
    return document


def _attachment(name: str) -> str:
    """``attachment`` with an ASCII fallback file name and the exact one in RFC 5987 form."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:80] or "assistant"
    return (f'attachment; filename="{slug}.assistant.json"; '
            f"filename*=UTF-8''{quote(name[:80], safe='')}.assistant.json")
