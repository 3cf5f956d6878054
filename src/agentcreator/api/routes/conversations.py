from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/conversations", tags=["conversations"])
