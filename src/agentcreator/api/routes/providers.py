"""Admin endpoints for model providers, and the model list every user picks from."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from agentcreator.api.deps import AdminUser, AppStateDep, CurrentUser, SessionDep
from agentcreator.api.schemas.providers import (
    ConnectionTest,
    ModelPublic,
    ModelsPublic,
    ProviderCreate,
    ProviderPublic,
    ProviderUpdate,
)
from agentcreator.core.errors import OutboundError
from agentcreator.db.models import Provider
from agentcreator.llm.errors import ProviderError
from agentcreator.llm.registry import ProviderConfig

admin_router = APIRouter(prefix="/api/admin/providers", tags=["admin"])
models_router = APIRouter(prefix="/api/models", tags=["models"])


def _from_row(row: Provider) -> ProviderPublic:
    return ProviderPublic(id=row.id, name=row.name, kind=row.kind, base_url=row.base_url,
                          has_api_key=bool(row.api_key_encrypted), models=row.models or [], enabled=row.enabled,
                          allow_private_network=row.allow_private_network, allowed_user_ids=row.allowed_user_ids,
                          source="admin", created_at=row.created_at, updated_at=row.updated_at)


def _from_env(config: ProviderConfig) -> ProviderPublic:
    models = [m.model_dump(include={"name", "context_length", "max_output_tokens", "vision", "tools"})
              for m in config.models] or [{"name": name} for name in config.local_models]
    return ProviderPublic(id=None, name=config.name, kind=config.kind, base_url=config.base_url,
                          has_api_key=bool(config.api_key), models=models, enabled=config.enabled,
                          source="environment")


@admin_router.get("", operation_id="admin_list_providers", response_model=list[ProviderPublic])
async def list_providers(_: AdminUser, state: AppStateDep, session: SessionDep) -> list[ProviderPublic]:
    rows = await state.providers.list(session)
    return [_from_env(c) for c in state.providers.environment_providers()] + [_from_row(r) for r in rows]


@admin_router.post("", operation_id="admin_create_provider", status_code=201, response_model=ProviderPublic)
async def create_provider(body: ProviderCreate, _: AdminUser, state: AppStateDep,
                          session: SessionDep) -> ProviderPublic:
    fields = body.model_dump()
    fields["models"] = [m.model_dump(exclude_none=True) for m in body.models]
    return _from_row(await state.providers.create(session, fields))


@admin_router.patch("/{provider_id}", operation_id="admin_update_provider", response_model=ProviderPublic)
async def update_provider(provider_id: str, body: ProviderUpdate, _: AdminUser, state: AppStateDep,
                          session: SessionDep) -> ProviderPublic:
    changes = body.model_dump(exclude_unset=True)
    for flag in ("enabled", "allow_private_network"):  # null: leave as it is
        if changes.get(flag, False) is None:
            del changes[flag]
    if body.models is not None:
        changes["models"] = [m.model_dump(exclude_none=True) for m in body.models]
    return _from_row(await state.providers.update(session, provider_id, changes))


@admin_router.delete("/{provider_id}", operation_id="admin_delete_provider", status_code=204)
async def delete_provider(provider_id: str, _: AdminUser, state: AppStateDep, session: SessionDep) -> Response:
    await state.providers.delete(session, provider_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin_router.post("/{provider_id}/test", operation_id="admin_test_provider", response_model=ConnectionTest)
async def test_provider(provider_id: str, _: AdminUser, state: AppStateDep, session: SessionDep) -> ConnectionTest:
    """Test the connection with the stored credentials."""
    try:
        count = await state.providers.test_connection(session, provider_id)
    except (ProviderError, OutboundError) as exc:
        return ConnectionTest(ok=False, error={"code": exc.code, "message": exc.message})
    return ConnectionTest(ok=True, models=count)


@models_router.get("", operation_id="models_list", response_model=ModelsPublic)
async def list_models(user: CurrentUser, state: AppStateDep, session: SessionDep) -> ModelsPublic:
    """The models this user's assistants can use, with their capabilities: a provider restricted to
    some users is invisible to the others, its failures included."""
    hidden = await state.providers.restrictions_for(session, user)
    await session.commit()  # nothing held open while the providers are asked
    listing = await state.models.list_models()
    data = [ModelPublic.model_validate(m.model_dump()) for m in listing.models if m.provider not in hidden]
    return ModelsPublic(data=data, count=len(data), default_model=state.settings.llm.default_model,
                        unavailable={k: {"code": v.code, "message": v.message} for k, v in listing.errors.items()
                                     if k not in hidden})
