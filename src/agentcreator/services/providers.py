"""Model providers: bootstrapped from the environment, plus those admins add through the API.

Environment providers (``local``, ``openai``, declared compatible endpoints) are read-only in the
API. Admin providers live in the database with their API key encrypted (never returned). Every
change rebuilds the model registry.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentcreator.core.config import Settings
from agentcreator.core.errors import (
    BlockedDestination,
    Conflict,
    NotFound,
    UpstreamUnreachable,
    ValidationFailed,
)
from agentcreator.core.outbound import OutboundGuard
from agentcreator.core.security import SecretBox
from agentcreator.db.models import Provider, User
from agentcreator.db.session import session_scope
from agentcreator.llm.errors import ProviderError
from agentcreator.llm.registry import ModelRegistry, ProviderConfig, build_provider, configs_from_settings
from agentcreator.llm.types import ModelSpec
from agentcreator.repositories import providers as provider_repo
from agentcreator.services.provider_access import ProviderAccess

log = logging.getLogger(__name__)


def environment_configs(settings: Settings) -> list[ProviderConfig]:
    llm = settings.llm
    local_models: dict[str, str] | None = None
    if not llm.local_enabled:
        local_models = {}
    elif llm.local_models:
        from agentcreator.llm.local_llamacpp import SMOLLM2_NAME, find_default_gguf

        default = find_default_gguf()
        local_models = ({SMOLLM2_NAME: str(default)} if default else {}) | llm.local_models
    return configs_from_settings(
        openai_api_key=settings.openai_api_key, openai_base_url=settings.openai_base_url,
        compatible=[e.model_dump() for e in llm.compatible_endpoints], local_models=local_models,
        local_n_ctx=llm.local_context_length, local_max_concurrent=llm.local_max_concurrent,
        local_n_threads=llm.local_threads)


def _check_complete(row: Provider) -> None:
    """A provider the registry could not build is refused before it is saved (it failed every reload)."""
    if row.kind == "openai_compatible" and not row.base_url:
        raise ValidationFailed("An OpenAI-compatible provider needs a base_url", code="base_url_required",
                               details=[{"loc": ["body", "base_url"], "msg": "required for openai_compatible",
                                         "type": "base_url_required"}])


def db_config(row: Provider, secrets: SecretBox) -> ProviderConfig:
    """An administrator's provider: it connects through the SSRF guard."""
    return ProviderConfig(
        name=row.name, kind=row.kind, base_url=row.base_url,  # type: ignore[arg-type]
        api_key=secrets.decrypt(row.api_key_encrypted) if row.api_key_encrypted else None,
        models=[ModelSpec.model_validate(m) for m in row.models or []], enabled=row.enabled,
        guarded=True, allow_private_network=row.allow_private_network)


def _private_network_refusal(url: str, problem: str) -> ValidationFailed:
    reason = problem.split(";")[0]
    return ValidationFailed(
        f"{reason}. Providers reach only public addresses unless you allow this one on the private network: "
        "do that only for a server you run there (such as Ollama on this machine).", code="private_network",
        details=[{"loc": ["body", "allow_private_network"], "msg": reason, "type": "private_network",
                  "base_url": url}])


async def check_destination(guard: OutboundGuard, row: Provider) -> None:
    """Refuse a base URL with credentials in it, and one on a loopback, private or link-local address
    (literally or by what its name resolves to now) unless ``allow_private_network``. A name that does
    not resolve is left to the connection test; every connection is checked again when it opens."""
    if not row.base_url:
        return
    try:
        url = httpx.URL(row.base_url)
    except httpx.InvalidURL as exc:
        raise ValidationFailed("base_url is not a valid URL", code="invalid_base_url") from exc
    if url.userinfo:
        raise ValidationFailed("Put the API key in api_key, not in the base_url", code="invalid_base_url")
    if row.allow_private_network:
        return
    try:
        guard.check_url(url)
        await guard.policy.addresses_for(url.host, url.port or (443 if url.scheme == "https" else 80))
    except BlockedDestination as exc:
        raise _private_network_refusal(row.base_url, exc.message) from exc
    except UpstreamUnreachable:
        return


async def _check_users(session: AsyncSession, user_ids: list[str] | None) -> None:
    """Every id in a provider's allowed users must be an account."""
    if not user_ids:
        return
    found = set((await session.execute(select(User.id).where(User.id.in_(set(user_ids))))).scalars())
    unknown = sorted(set(user_ids) - found)
    if unknown:
        raise ValidationFailed("Some allowed users do not exist", code="unknown_user",
                               details=[{"loc": ["body", "allowed_user_ids"], "msg": "no such user",
                                         "type": "unknown_user", "ids": unknown[:20]}])


class ProviderService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], registry: ModelRegistry,
                 settings: Settings, secrets: SecretBox, guard: OutboundGuard,
                 access: ProviderAccess | None = None) -> None:
        self._sessions = sessions
        self.access = access or ProviderAccess()  # the restrictions, as of the last load
        self._version: tuple[int, Any] | None = None  # the providers' rows as of the last load
        self._guard = guard
        self._registry = registry
        self._settings = settings
        self._secrets = secrets
        self._env = environment_configs(settings)

    @property
    def environment_names(self) -> set[str]:
        return {c.name for c in self._env}

    def environment_providers(self) -> list[ProviderConfig]:
        return list(self._env)

    async def reload(self) -> None:
        """Rebuild the registry and the restrictions from the environment and the database."""
        async with session_scope(self._sessions) as session:
            rows = await provider_repo.list_all(session)
            version = await provider_repo.version(session)
        configs = list(self._env) + [db_config(r, self._secrets) for r in rows if r.name not in self.environment_names]
        await self._registry.replace(configs)
        self.access.load(r for r in rows if r.name not in self.environment_names)
        self._version = version

    async def reload_if_changed(self) -> bool:
        """Reload when the providers' rows changed since the last load (another process's admin
        change: this one's reload at once); True when it did."""
        async with session_scope(self._sessions) as session:
            version = await provider_repo.version(session)
        if version == self._version:
            return False
        await self.reload()
        return True

    async def follow_changes(self, every: float) -> None:
        """Run until cancelled: pick up the changes other processes make (several workers)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.reload_if_changed()
            except Exception:  # a database hiccup: the next check tries again; the last load stays
                log.warning("checking the providers for changes failed", exc_info=True)

    async def list(self, session: AsyncSession) -> list[Provider]:
        return await provider_repo.list_all(session)

    async def create(self, session: AsyncSession, fields: dict[str, Any]) -> Provider:
        name = fields["name"]
        if name in self.environment_names or await provider_repo.get_by_name(session, name):
            raise Conflict(f"A provider named '{name}' already exists", code="provider_exists")
        api_key = fields.pop("api_key", None)
        row = Provider(**fields, api_key_encrypted=self._secrets.encrypt(api_key) if api_key else None)
        _check_complete(row)
        await _check_users(session, row.allowed_user_ids)
        await check_destination(self._guard, row)
        session.add(row)
        await session.commit()
        await self.reload()
        return row

    async def update(self, session: AsyncSession, provider_id: str, changes: dict[str, Any]) -> Provider:
        row = await self._get(session, provider_id)
        if "api_key" in changes:
            api_key = changes.pop("api_key")
            row.api_key_encrypted = self._secrets.encrypt(api_key) if api_key else None
        for key, value in changes.items():
            setattr(row, key, value)
        _check_complete(row)
        if "allowed_user_ids" in changes:
            await _check_users(session, row.allowed_user_ids)
        await check_destination(self._guard, row)
        await session.commit()
        await self.reload()
        return row

    async def delete(self, session: AsyncSession, provider_id: str) -> None:
        row = await self._get(session, provider_id)
        await session.delete(row)
        await session.commit()
        await self.reload()

    async def test_connection(self, session: AsyncSession, provider_id: str) -> int:
        """Ask the provider for its models with its stored credentials; returns how many it offers."""
        row = await self._get(session, provider_id)
        await session.commit()  # nothing held open while the provider answers
        try:
            await check_destination(self._guard, row)
        except ValidationFailed as exc:
            raise ProviderError(exc.message, provider=row.name, code=exc.code) from exc
        provider = build_provider(db_config(row, self._secrets).model_copy(update={"enabled": True}), self._guard)
        try:
            await provider.check()
            return len(await provider.list_models())
        finally:
            await provider.aclose()

    async def restrictions_for(self, session: AsyncSession, user: User) -> set[str]:
        """The providers ``user`` may not use."""
        if user.is_admin:
            return set()
        return {name for name, allowed in (await provider_repo.restrictions(session)).items() if user.id not in allowed}

    async def may_use(self, session: AsyncSession, user: User, model_id: str) -> bool:
        provider_name, _, _ = model_id.partition("/")
        return user.is_admin or await provider_repo.usable_by(session, provider_name, user.id)

    async def _get(self, session: AsyncSession, provider_id: str) -> Provider:
        row = await provider_repo.get(session, provider_id)
        if row is None:
            raise NotFound("Provider")
        return row
