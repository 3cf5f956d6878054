"""Knowledge bases of the current user and their documents. Another user's base or document is
"not found" (the repository scopes every query by owner)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from agentcreator.api.deps import AdminUser, AppStateDep, CurrentUser, FileServiceDep, SessionDep
from agentcreator.api.routes.files import UPLOAD_OPENAPI
from agentcreator.api.schemas.knowledge import (
    CitedPage,
    DocumentCreate,
    DocumentFromFile,
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
from agentcreator.core.errors import AppError
from agentcreator.db.models import KnowledgeBase
from agentcreator.services.fair_use import admit_upload
from agentcreator.services.knowledge import KnowledgeService, split_pages
from agentcreator.services.knowledge_files import add_file_to_base, cited_page

router = APIRouter(prefix="/api/knowledge-bases", tags=["knowledge"])
documents_router = APIRouter(prefix="/api/knowledge-documents", tags=["knowledge"])
admin_router = APIRouter(prefix="/api/admin/knowledge-bases", tags=["admin"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
# Streams its body under the files' size limit and quota: exempt from the request body limit (main.py).
UPLOAD_PATH = "/api/knowledge-bases/{base_id}/documents/upload"


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
             status_code=status.HTTP_202_ACCEPTED, openapi_extra=UPLOAD_OPENAPI)
async def upload_document(base: OwnedBase, request: Request, user: CurrentUser, service: ServiceDep,
                          files: FileServiceDep, state: AppStateDep) -> DocumentPublic:
    """Upload a file into the base (multipart field ``file``): it is stored as one of your files, like
    ``POST /api/files`` (same types, size limit and quota; streamed), and its extracted text is queued.
    A file without text (an image, a blank file) is refused (422) and not kept."""
    base_id, user_id = base.id, user.id
    await admit_upload(state.fair_use, state.rate_limiter, user_id)
    await service.session.rollback()  # no transaction held while the body streams in
    length = request.headers.get("content-length")
    stored = await files.upload(user_id, request.stream(), request.headers.get("content-type"),
                                int(length) if length and length.isdigit() else None)
    try:
        document = await add_file_to_base(service.session, state.knowledge, files.storage, user_id, base_id,
                                          stored.id)
    except AppError:
        await service.session.rollback()
        await files.delete(user_id, stored.id)  # nothing of a refused upload is kept
        raise
    return DocumentPublic.model_validate(document)


@router.post("/{base_id}/documents/from-file", operation_id="knowledge_documents_from_file",
             status_code=status.HTTP_202_ACCEPTED)
async def add_file(base_id: str, body: DocumentFromFile, user: CurrentUser, session: SessionDep,
                   files: FileServiceDep, state: AppStateDep) -> DocumentPublic:
    """Add one of your uploaded files (``/api/files``) to the base without uploading it again: its
    extracted text is queued. 404 for another user's base or file, 422 ``no_text`` for an image,
    409 ``already_added`` when the base has it already."""
    document = await add_file_to_base(session, state.knowledge, files.storage, user.id, base_id, body.file_id)
    return DocumentPublic.model_validate(document)


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


@documents_router.get("/{document_id}/pages/{number}", operation_id="knowledge_documents_page")
async def get_cited_page(document_id: str, number: Annotated[int, Path(ge=1, le=1_000_000)],
                         user: CurrentUser, session: SessionDep) -> CitedPage:
    """One page of one of your documents: what a citation (``document_id``, ``page``) opens. Another
    user's document is "not found"."""
    document, page = await cited_page(session, user.id, document_id, number)
    return CitedPage(document_id=document.id, base_id=document.base_id, name=document.name,
                     file_id=document.file_id, number=page.number, page_count=document.page_count, text=page.text)
