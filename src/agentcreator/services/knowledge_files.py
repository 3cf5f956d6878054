"""Knowledge documents made from the owner's uploaded files, and the pages a citation opens.

A file's text was extracted once, at upload (``files/extract.py``): PDF pages, slides and sheets are
marked in it (``[Page 3]``, ``[Slide 2]``, ``[Sheet Budget]``). Those marks become the document's pages,
so a citation's page number is the file's; other formats are one page (form feeds split text files).
The document keeps the file's id: a citation links to the file. Nothing is uploaded again."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.core.errors import Conflict, NotFound, ValidationFailed
from agentcreator.db.models import File, KnowledgeDocument, KnowledgePage
from agentcreator.files.storage import FileStorage
from agentcreator.rag.knowledge import Knowledge
from agentcreator.repositories import files as file_repo
from agentcreator.repositories import knowledge as repo
from agentcreator.services.knowledge import split_pages


def _marks(file: File) -> list[str]:
    """The page marks extraction wrote, in order (empty: the format has no pages)."""
    count = file.page_count or 0
    if file.format == "pdf":
        return [f"[Page {n}]" for n in range(1, count + 1)]
    if file.format == "pptx":
        return [f"[Slide {n}]" for n in range(1, count + 1)]
    if file.format == "xlsx":
        return [f"[Sheet {name}]" for name in file.meta.get("sheets", [])]
    return []


def pages_of_extracted_text(text: str, marks: Sequence[str]) -> list[str]:
    """Split extracted text at its page marks, taken in order (a mark's text inside a page is only a
    boundary where the next expected mark is): one string a page, the marks themselves dropped."""
    if not marks:
        return split_pages(text)
    bounds: list[tuple[int, int]] = []
    cursor = 0
    for mark in marks:
        at = text.find(mark, cursor)
        while at > 0 and text[at - 1] != "\n":  # a mark starts a line
            at = text.find(mark, at + 1)
        if at < 0:
            break  # extraction stopped here (the text limit)
        bounds.append((at, at + len(mark)))
        cursor = at + len(mark)
    if not bounds:
        return split_pages(text)
    return [text[end:(bounds[i + 1][0] if i + 1 < len(bounds) else len(text))].strip("\n")
            for i, (_, end) in enumerate(bounds)]


async def add_file_to_base(session: AsyncSession, knowledge: Knowledge, storage: FileStorage, owner_id: str,
                           base_id: str, file_id: str) -> KnowledgeDocument:
    """Queue the owner's file as a document of the owner's base. Another user's base or file is "not
    found"; a file without text (an image) is 422 ``no_text``; a file already in the base 409."""
    if await repo.get_base(session, owner_id, base_id) is None:
        raise NotFound("Knowledge base")
    file = await file_repo.get_owned(session, owner_id, file_id)
    if file is None:
        raise NotFound("File")
    if await repo.document_of_file(session, owner_id, base_id, file.id) is not None:
        raise Conflict(f"“{file.name}” is already in this knowledge base.", code="already_added")
    if file.text_key is None:
        raise ValidationFailed(f"“{file.name}” has no text to search (images cannot be added).", code="no_text")
    name, text_key, marks, file_id = file.name, file.text_key, _marks(file), file.id
    await session.rollback()  # no transaction held while the text is read and while ingestion writes
    try:
        data = await storage.read_bytes(text_key)
    except FileNotFoundError as exc:
        raise NotFound("File content") from exc
    pages = pages_of_extracted_text(data.decode("utf-8", errors="replace"), marks)
    return await knowledge.ingest_document(base_id, name, pages, file_id, owner_id=owner_id)


async def cited_page(session: AsyncSession, owner_id: str, document_id: str,
                     number: int) -> tuple[KnowledgeDocument, KnowledgePage]:
    """The owner's document and one of its pages (what a citation points at); anything else 404."""
    document = await repo.get_owned_document(session, owner_id, document_id)
    if document is None:
        raise NotFound("Document")
    page = await repo.get_page(session, document.id, number)
    if page is None:
        raise NotFound("Page")
    return document, page
