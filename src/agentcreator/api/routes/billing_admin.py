"""Administration of costs: the versioned price table and budgets (platform defaults, per-user
overrides). Every route requires an administrator; ``GET /api/prices`` lets anyone signed in read
the current table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from agentcreator.api.deps import AdminUser, AppStateDep, CurrentUser, SessionDep
from agentcreator.api.schemas.billing import (
    BudgetLimits,
    BudgetLimitsUpdate,
    CurrentPricesPublic,
    PricesPublic,
    PricesUpdate,
    PriceVersionPublic,
    PriceVersionsPublic,
    UserBudgetPublic,
)
from agentcreator.repositories import usage_prices as price_repo
from agentcreator.services import budgets as budget_service
from agentcreator.services import usage_prices as price_service

router = APIRouter(prefix="/api/admin", tags=["admin", "billing"])
prices_router = APIRouter(prefix="/api/prices", tags=["billing"])


@prices_router.get("", operation_id="prices_current")
async def current_prices(user: CurrentUser, session: SessionDep, state: AppStateDep) -> CurrentPricesPublic:
    """The price table in force (micro-dollars per 1M tokens, tool fees per 1,000 calls), without the
    models of providers this user may not use."""
    current = CurrentPricesPublic.model_validate(await price_service.get_prices(session, state.billing),
                                                 from_attributes=True)
    hidden = await state.providers.restrictions_for(session, user)
    if hidden:
        current.models = [m for m in current.models if m.pattern.partition("/")[0] not in hidden]
    return current


@router.get("/prices", operation_id="admin_get_prices")
async def get_prices(_: AdminUser, session: SessionDep, state: AppStateDep,
                     version: Annotated[int | None, Query(ge=1, description="A past version (default: current)")] = None,
                     ) -> PricesPublic:
    doc = await price_service.get_prices(session, state.billing, version)
    return PricesPublic.model_validate(doc, from_attributes=True)


@router.put("/prices", operation_id="admin_put_prices")
async def put_prices(body: PricesUpdate, admin: AdminUser, session: SessionDep,
                     state: AppStateDep) -> PricesPublic:
    """Replace the price table: saved as a new version. Costs already recorded never change."""
    doc = await price_service.put_prices(session, admin.id, body.note, [m.model_dump() for m in body.models],
                                         [t.model_dump() for t in body.tools])
    state.billing.invalidate_prices()  # this worker prices with the new version at once (others: see meter)
    return PricesPublic.model_validate(doc, from_attributes=True)


@router.get("/prices/versions", operation_id="admin_list_price_versions")
async def list_price_versions(_: AdminUser, session: SessionDep,
                              limit: Annotated[int, Query(ge=1, le=200)] = 50,
                              offset: Annotated[int, Query(ge=0)] = 0) -> PriceVersionsPublic:
    versions, count = await price_repo.list_versions(session, limit, offset)
    return PriceVersionsPublic(data=[PriceVersionPublic.model_validate(v) for v in versions], count=count)


@router.get("/budgets/defaults", operation_id="admin_get_budget_defaults")
async def get_budget_defaults(_: AdminUser, session: SessionDep, state: AppStateDep) -> BudgetLimits:
    return BudgetLimits(**(await budget_service.get_defaults(session, state.billing)).as_dict())


@router.patch("/budgets/defaults", operation_id="admin_update_budget_defaults")
async def update_budget_defaults(body: BudgetLimitsUpdate, _: AdminUser, session: SessionDep,
                                 state: AppStateDep) -> BudgetLimits:
    """Change the platform's default user budgets (only the fields sent; null = unlimited)."""
    limits = await budget_service.update_defaults(session, state.billing, body.model_dump(exclude_unset=True))
    return BudgetLimits(**limits.as_dict())


@router.get("/budgets/users/{user_id}", operation_id="admin_get_user_budget")
async def get_user_budget(user_id: str, _: AdminUser, session: SessionDep, state: AppStateDep) -> UserBudgetPublic:
    return UserBudgetPublic.model_validate(await budget_service.user_budget(session, state.billing, user_id))


@router.patch("/budgets/users/{user_id}", operation_id="admin_update_user_budget")
async def update_user_budget(user_id: str, body: BudgetLimitsUpdate, _: AdminUser, session: SessionDep,
                             state: AppStateDep) -> UserBudgetPublic:
    """Override some of a user's limits (null = unlimited for this user); the rest inherit the defaults."""
    doc = await budget_service.update_user_budget(session, state.billing, user_id,
                                                  body.model_dump(exclude_unset=True))
    return UserBudgetPublic.model_validate(doc)


@router.delete("/budgets/users/{user_id}", operation_id="admin_reset_user_budget")
async def reset_user_budget(user_id: str, _: AdminUser, session: SessionDep, state: AppStateDep) -> UserBudgetPublic:
    """Drop a user's overrides: the platform defaults apply again."""
    return UserBudgetPublic.model_validate(await budget_service.reset_user_budget(session, state.billing, user_id))
