from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of results: ``data`` plus the total ``count`` matching the filters."""

    data: list[T]
    count: int


class StrictInput(BaseModel):
    """Base for request bodies: unknown fields (owner_id, is_admin, ...) are refused with 422."""

    model_config = ConfigDict(extra="forbid", str_max_length=200_000)
