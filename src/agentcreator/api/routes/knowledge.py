"""Knowledge bases of the current user and their documents. Another user's base or document is
"not found" (the repository scopes every query by owner)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, UploadFile, status

from agentcreator.api.deps import AdminUser, AppStateDep, CurrentUser, SessionDep
from agentcreator.api.schemas.knowledge import (
    DocumentCreate,
    DocumentPublic,
    DocumentsPublic,
    KnowledgeBaseCreate,
    KnowledgeBasePublic,
    KnowledgeBasesPublic,
    KnowledgeBaseUpdate,
    ReembedReport,
    SearchHit,
    SearchNotice,
    SearchRequest,
    SearchResults,
)
from agentcreator.core.errors import PayloadTooLarge, ValidationFailed
from agentcreator.db.models import KnowledgeBase
from agentcreator.services.knowledge import KnowledgeService, decode_text, split_pages

router = APIRouter(prefix="/api/knowledge-bases", tags=["knowledge"])
admin_router = APIRouter(prefix="/api/admin/knowledge-bases", tags=["admin"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown", "application/octet-stream", "")
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")


async def knowledge_service(session: SessionDep, user: CurrentUser, state: AppStateDep) -> KnowledgeService:
    return KnowledgeService(session, user.id, state.knowledge)


ServiceDep = Annotated[KnowledgeService, Depends(knowledge_service)]


async def owned_base(base_id: str, service: ServiceDep) -> KnowledgeBase:
    return await service.get_base(base_id)


OwnedBase = Annotated[KnowledgeBase, Depends(owned_base)]


async def _public(service: KnowledgeService, bases: list[KnowledgeBase]) -> list[KnowledgeBasePublic]:
    stats = await service.stats(bases)
    progress = await service.embedding_progress(bases)
    knowledge = service.knowledge
    out = []
    for base in bases:
        documents, chunks = stats.get(base.id, (0, 0))
        done, total = progress.get(base.id, (0, 0))
        out.append(KnowledgeBasePublic(
            id=base.id, name=base.name, description=base.description, embedding_model=base.embedding_model,
            embedding_dimensions=base.embedding_dimensions, embedding_error=base.embedding_error,
            embedding_status=knowledge.embedding_status(base.embedding_model, base.reembedding, base.embedding_error),
            server_embedding_model=knowledge.embedder.model_id, embedding_done=done, embedding_total=total,
            document_count=documents, chunk_count=chunks, created_at=base.created_at, updated_at=base.updated_at))
    return out


@router.get("", operation_id="knowledge_bases_list")
async def list_bases(service: ServiceDep, limit: Limit = 50, offset: Offset = 0) -> KnowledgeBasesPublic:
    bases, count = await service.list_bases(limit=limit, offset=offset)
    return KnowledgeBasesPublic(data=await _public(service, bases), count=count)


@router.post("", operation_id="knowledge_bases_create", status_code=status.HTTP_201_CREATED)
async def create_base(body: KnowledgeBaseCreate, service: ServiceDep) -> KnowledgeBasePublic:
    return (await _public(service, [await service.create_base(body.model_dump())]))[0]


@router.get("/{base_id}", operation_id="knowledge_bases_get")
async def get_base(base: OwnedBase, service: ServiceDep) -> KnowledgeBasePublic:
    return (await _public(service, [base]))[0]


@router.patch("/{base_id}", operation_id="knowledge_bases_update")
async def update_base(base: OwnedBase, body: KnowledgeBaseUpdate, service: ServiceDep) -> KnowledgeBasePublic:
    updated = await service.update_base(base, body.model_dump(exclude_unset=True))
    return (await _public(service, [updated]))[0]


@router.post("/{base_id}/re-embed", operation_id="knowledge_bases_reembed", status_code=status.HTTP_202_ACCEPTED)
async def reembed_base(base: OwnedBase, service: ServiceDep) -> KnowledgeBasePublic:
    """Re-embed every chunk with the server's embedding model (after the model changed, or to retry a
    failed re-embedding). The base is searched by keywords only until it is done; 409 while one runs."""
    return (await _public(service, [await service.reembed(base)]))[0]


@router.delete("/{base_id}", operation_id="knowledge_bases_delete", status_code=status.HTTP_204_NO_CONTENT)
async def delete_base(base: OwnedBase, service: ServiceDep) -> None:
    await service.delete_base(base)


@router.get("/{base_id}/documents", operation_id="knowledge_documents_list")
async def list_documents(base: OwnedBase, service: ServiceDep, limit: Limit = 100,
                         offset: Offset = 0) -> DocumentsPublic:
    documents, count = await service.list_documents(base, limit=limit, offset=offset)
    return DocumentsPublic(data=[DocumentPublic.model_validate(d) for d in documents], count=count)


@router.post("/{base_id}/documents", operation_id="knowledge_documents_create",
             status_code=status.HTTP_202_ACCEPTED)
async def add_document(base: OwnedBase, body: DocumentCreate, service: ServiceDep) -> DocumentPublic:
    pages = body.pages if body.pages is not None else split_pages(body.text or "")
    return DocumentPublic.model_validate(await service.add_document(base, body.name, pages))


@router.post("/{base_id}/documents/upload", operation_id="knowledge_documents_upload",
             status_code=status.HTTP_202_ACCEPTED)
async def upload_document(base: OwnedBase, file: UploadFile, service: ServiceDep,
                          state: AppStateDep) -> DocumentPublic:
    """A text or Markdown file (UTF-8; form feeds separate pages). Other formats arrive with the files
    integration, which extracts their pages and calls the same ingestion."""
    name = (file.filename or "document.txt").replace("\\", "/").rsplit("/", 1)[-1][:300] or "document.txt"
    media = (file.content_type or "").split(";")[0].strip().lower()
    if media not in TEXT_TYPES and not name.lower().endswith(TEXT_SUFFIXES):
        raise ValidationFailed(f"Only text and Markdown files can be added for now (got {media}).",
                               code="unsupported_file_type")
    limit = state.settings.knowledge.max_document_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The file is larger than {limit} bytes.")
    return DocumentPublic.model_validate(await service.add_document(base, name, split_pages(decode_text(data))))


@router.get("/{base_id}/documents/{document_id}", operation_id="knowledge_documents_get")
async def get_document(base: OwnedBase, document_id: str, service: ServiceDep) -> DocumentPublic:
    return DocumentPublic.model_validate(await service.get_document(base.id, document_id))


@router.delete("/{base_id}/documents/{document_id}", operation_id="knowledge_documents_delete",
               status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(base: OwnedBase, document_id: str, service: ServiceDep) -> None:
    await service.delete_document(await service.get_document(base.id, document_id))


@router.post("/{base_id}/documents/{document_id}/retry", operation_id="knowledge_documents_retry",
             status_code=status.HTTP_202_ACCEPTED)
async def retry_document(base: OwnedBase, document_id: str, service: ServiceDep) -> DocumentPublic:
    document = await service.get_document(base.id, document_id)
    return DocumentPublic.model_validate(await service.retry(document))


@router.post("/{base_id}/search", operation_id="knowledge_bases_search")
async def search(base: OwnedBase, body: SearchRequest, service: ServiceDep) -> SearchResults:
    result = await service.search(base, body.query, top_k=body.top_k, threshold=body.threshold)
    return SearchResults(query=body.query, data=[SearchHit(**{k: v for k, v in p.as_dict().items()
                                                              if k in SearchHit.model_fields}) for p in result.passages],
                         notices=[SearchNotice.model_validate(n.as_dict()) for n in result.notices])


@admin_router.post("/re-embed-stale", operation_id="admin_reembed_stale_knowledge_bases",
                   status_code=status.HTTP_202_ACCEPTED)
async def reembed_stale(_: AdminUser, state: AppStateDep, session: SessionDep) -> ReembedReport:
    """Re-embed every user's knowledge base built with another embedding model than the server's (after
    ``KNOWLEDGE__EMBEDDING_MODEL`` changed). Each base's embedding usage is its owner's."""
    await session.rollback()  # no transaction held while the bases are switched one by one
    bases, jobs = await state.knowledge.reembed_stale()
    return ReembedReport(bases=bases, jobs=jobs, embedding_model=state.knowledge.embedder.model_id)
