"""Knowledge schemas: KnowledgeBaseCreate/Update/Public/sPublic, DocumentCreate/FromFile/Public/sPublic,
SearchRequest, SearchHit, SearchNotice, SearchResults, ReembedReport, CitedPage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from agentcreator.api.schemas.common import Page, StrictInput

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=2000)]
DocumentName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class KnowledgeBaseCreate(StrictInput):
    name: Name
    description: Description = ""


class KnowledgeBaseUpdate(StrictInput):
    name: Name | None = None
    description: Description | None = None


class KnowledgeBasePublic(BaseModel):
    id: str
    name: str
    description: str
    embedding_model: str = Field(description="the model the base's vectors come from")
    embedding_dimensions: int | None
    embedding_status: Literal["current", "stale", "reembedding", "reembed_failed"] = Field(
        description="stale: embedded with another model than the server's (keyword search only until "
                    "re-embedded); reembedding: vectors being rebuilt (keyword search only meanwhile)")
    embedding_error: str | None = Field(description="why the last re-embedding failed")
    server_embedding_model: str = Field(description="the model this server embeds with")
    embedding_done: int = Field(description="re-embedding: chunks embedded so far")
    embedding_total: int = Field(description="re-embedding: chunks to embed")
    document_count: int
    chunk_count: int
    created_at: datetime
    updated_at: datetime


KnowledgeBasesPublic = Page[KnowledgeBasePublic]


class DocumentCreate(StrictInput):
    """A document as text: ``text`` (form feeds separate pages) or ``pages`` (one string a page)."""

    model_config = ConfigDict(extra="forbid", str_max_length=20_000_000)

    name: DocumentName
    text: str | None = None
    pages: Annotated[list[str], Field(max_length=5000)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DocumentCreate:
        if (self.text is None) == (self.pages is None):
            raise ValueError("give either text or pages")
        return self


class DocumentFromFile(StrictInput):
    file_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class DocumentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    base_id: str
    name: str
    file_id: str | None
    status: str = Field(description="queued | parsing | embedding | ready | failed")
    progress_done: int = Field(description="chunks embedded so far")
    progress_total: int = Field(description="chunks to embed (0 until parsed)")
    error: str | None
    chunk_count: int
    page_count: int
    created_at: datetime
    updated_at: datetime


DocumentsPublic = Page[DocumentPublic]


class SearchRequest(StrictInput):
    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    top_k: Annotated[int, Field(ge=1, le=50)] = 5
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None


class SearchHit(BaseModel):
    chunk_id: int
    document_id: str
    file_id: str | None
    name: str
    page: int
    char_start: int
    char_end: int
    text: str
    score: float = Field(description="fused relevance: the sum of the lexical and dense scores, each normalized "
                                     "to its ranking (mean -/+ 3 sigma as 0 and 1); higher is better")
    bm25_rank: int | None = Field(description="rank in the lexical ranking (1 = best), null: not in it")
    dense_rank: int | None = Field(description="rank in the dense ranking (1 = best), null: not in it")
    lexical_score: float | None
    similarity: float | None = Field(description="cosine similarity to the query")


class SearchNotice(BaseModel):
    base_id: str | None = Field(description="null: the whole search")
    code: Literal["embedding_stale", "reembedding", "embedding_unavailable"]
    message: str


class SearchResults(BaseModel):
    query: str
    data: list[SearchHit]
    notices: list[SearchNotice] = Field(default_factory=list,
                                        description="bases searched by keywords only, and why")


class ReembedReport(BaseModel):
    bases: int = Field(description="bases switched to the server's embedding model")
    jobs: int = Field(description="ingestion jobs queued to re-embed their documents")
    embedding_model: str


class CitedPage(BaseModel):
    """A page of a document, as a citation opens it: ``char_start``/``char_end`` index into ``text``."""

    document_id: str
    base_id: str
    name: str
    file_id: str | None
    number: int
    page_count: int
    text: str
