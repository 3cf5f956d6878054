"""Which providers are restricted to which users, as of the last load of the providers.

Read on every turn's start (chat/turn_draft), so it is kept in memory: :class:`~agentcreator.services.
providers.ProviderService` fills it each time it loads the providers — at start-up, after an admin's
change in this process, and within a few seconds of a change made through another
process (``ProviderService.follow_changes``, every ``LLM__PROVIDERS_CHECK_SECONDS``). Environment
providers are never restricted."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.db.models import Provider
from agentcreator.repositories import users as user_repo


class ProviderAccess:
    def __init__(self) -> None:
        self._restricted: dict[str, frozenset[str]] = {}

    def load(self, rows: Iterable[Provider]) -> None:
        """Take the restrictions of the database's providers (``allowed_user_ids`` None: everyone)."""
        self._restricted = {row.name: frozenset(row.allowed_user_ids) for row in rows
                            if row.allowed_user_ids is not None}

    async def usable_by(self, session: AsyncSession, provider_name: str, user_id: str) -> bool:
        """Whether ``user_id`` may use the provider's models (a restricted provider: administrators and
        the users it names; the administrator flag is read only for a user it does not name)."""
        allowed = self._restricted.get(provider_name)
        if allowed is None or user_id in allowed:
            return True
        return await user_repo.is_admin(session, user_id)
