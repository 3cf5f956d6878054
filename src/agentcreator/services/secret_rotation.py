"""``agentcreator rotate-secret``: move the platform to a new secret key.

Provider API keys are re-encrypted with the new key and everyone is signed out (every session
revoked, every token version bumped), in one transaction. A row already encrypted with the new key
(a rotation resumed after a crash) is left as it is, so running the rotation twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.core.security import SecretBox
from agentcreator.db.session import transaction
from agentcreator.repositories import auth_sessions as session_repo
from agentcreator.repositories import providers as provider_repo
from agentcreator.repositories import users as user_repo


class RotationError(Exception):
    """A stored secret can be read with neither key: nothing was changed."""


@dataclass(frozen=True, slots=True)
class RotationReport:
    providers_reencrypted: int
    users_signed_out: int
    sessions_revoked: int


async def rotate_secret(sessions: async_sessionmaker[AsyncSession], old_key: str, new_key: str) -> RotationReport:
    old_box, new_box = SecretBox(old_key), SecretBox(new_key)
    reencrypted = 0
    async with transaction(sessions) as session:
        for provider in await provider_repo.list_all(session):
            if not provider.api_key_encrypted:
                continue
            try:
                plaintext = old_box.decrypt(provider.api_key_encrypted)
            except ValueError:
                try:
                    new_box.decrypt(provider.api_key_encrypted)
                except ValueError as exc:
                    raise RotationError(f"the API key of provider {provider.name!r} cannot be decrypted "
                                        "with the current key nor the new one") from exc
                continue  # already rotated
            provider.api_key_encrypted = new_box.encrypt(plaintext)
            reencrypted += 1
        users = await user_repo.bump_all_token_versions(session)
        revoked = await session_repo.revoke_everyone(session, "secret_rotated")
    return RotationReport(reencrypted, users, revoked)
