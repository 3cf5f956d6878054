"""Admin-editable platform settings, one row per key in ``platform_settings``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import PlatformSetting

REGISTRATION_OPEN = "registration_open"
# New accounts from open registration wait for an administrator's approval.
REGISTRATION_REQUIRES_APPROVAL = "registration_requires_approval"
# Claimed (insert-once, guarded by the primary key) by the registration that makes the first admin.
FIRST_ADMIN = "first_admin"

DEFAULTS: dict[str, Any] = {REGISTRATION_OPEN: True, REGISTRATION_REQUIRES_APPROVAL: False}


async def get(session: AsyncSession, key: str) -> Any:
    row = await session.get(PlatformSetting, key)
    return row.value if row is not None else DEFAULTS.get(key)


async def put(session: AsyncSession, key: str, value: Any) -> None:
    row = await session.get(PlatformSetting, key)
    if row is None:
        session.add(PlatformSetting(key=key, value=value))
    else:
        row.value = value
    await session.flush()


async def claim(session: AsyncSession, key: str, value: Any) -> bool:
    """Insert ``key`` unless it exists, in a savepoint. Of concurrent claimers only one succeeds
    (the primary key decides); the others get False and their transaction carries on."""
    if await session.get(PlatformSetting, key) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(PlatformSetting(key=key, value=value))
    except IntegrityError:
        return False
    return True
