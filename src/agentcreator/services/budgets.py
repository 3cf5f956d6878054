"""Budget administration: the platform defaults and per-user overrides."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.billing import Billing
from agentcreator.billing.budgets import USER_LIMIT_FIELDS, UserLimits
from agentcreator.billing.meter import BUDGET_DEFAULTS_KEY
from agentcreator.core.errors import NotFound
from agentcreator.db.models import User
from agentcreator.repositories import budgets as budget_repo
from agentcreator.repositories import platform_settings
from agentcreator.repositories.assistants import plausible_id


async def get_defaults(session: AsyncSession, billing: Billing) -> UserLimits:
    return await billing.platform_defaults(session)


async def update_defaults(session: AsyncSession, billing: Billing, changes: dict[str, Any]) -> UserLimits:
    current = (await billing.platform_defaults(session)).as_dict()
    current.update({k: v for k, v in changes.items() if k in USER_LIMIT_FIELDS})
    await platform_settings.put(session, BUDGET_DEFAULTS_KEY, current)
    await session.commit()
    billing.invalidate_defaults()  # turn starts use a cached copy (other workers: within its TTL)
    return UserLimits(**current)


async def _user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id) if plausible_id(user_id) else None
    if user is None:
        raise NotFound("User")
    return user


async def user_budget(session: AsyncSession, billing: Billing, user_id: str) -> dict[str, Any]:
    user = await _user(session, user_id)
    overrides = await budget_repo.get_overrides(session, user.id)
    return {"user_id": user.id, "overrides": overrides, "overridden": sorted(overrides),
            "effective": (await billing.user_limits(session, user.id)).as_dict()}


async def update_user_budget(session: AsyncSession, billing: Billing, user_id: str,
                             changes: dict[str, Any]) -> dict[str, Any]:
    user = await _user(session, user_id)
    overrides = await budget_repo.get_overrides(session, user.id)
    overrides.update({k: v for k, v in changes.items() if k in USER_LIMIT_FIELDS})
    await budget_repo.put_overrides(session, user.id, overrides)
    await session.commit()
    return await user_budget(session, billing, user.id)


async def reset_user_budget(session: AsyncSession, billing: Billing, user_id: str) -> dict[str, Any]:
    user = await _user(session, user_id)
    await budget_repo.delete_overrides(session, user.id)
    await session.commit()
    return await user_budget(session, billing, user.id)
