"""MCP servers: admins register them (``/api/admin/mcp-servers``); every user lists the enabled ones and
their tools for the assistant form (``/api/mcp-servers``). Secrets, URLs and commands stay with admins,
and header and environment values are never returned at all."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from agentcreator.api.deps import AdminUser, AppStateDep, CurrentUser, SessionDep
from agentcreator.api.schemas.mcp_servers import (
    McpConnectionTest,
    McpServerCatalog,
    McpServerCatalogEntry,
    McpServerCreate,
    McpServerPublic,
    McpServersPublic,
    McpServerUpdate,
    McpToolPublic,
)
from agentcreator.tools.mcp import (
    McpToolError,
    McpToolInfo,
    describe_in_full,
    function_names,
)

admin_router = APIRouter(prefix="/api/admin/mcp-servers", tags=["admin"])
router = APIRouter(prefix="/api/mcp-servers", tags=["mcp"])


def _tools(server: str, tools: list[McpToolInfo]) -> list[McpToolPublic]:
    names = function_names(server, [t.name for t in tools])
    return [McpToolPublic(name=t.name, function_name=names[t.name], title=t.title, description=t.description,
                          input_schema=t.input_schema) for t in tools]


def _error(exc: McpToolError) -> dict[str, str]:
    return {"code": exc.code, "message": exc.message}


@admin_router.get("", operation_id="admin_list_mcp_servers")
async def list_servers(_: AdminUser, state: AppStateDep, session: SessionDep) -> McpServersPublic:
    rows = await state.mcp.list(session)
    return McpServersPublic(data=[McpServerPublic.model_validate(r) for r in rows], count=len(rows))


@admin_router.post("", operation_id="admin_create_mcp_server", status_code=status.HTTP_201_CREATED)
async def create_server(body: McpServerCreate, _: AdminUser, state: AppStateDep,
                        session: SessionDep) -> McpServerPublic:
    return McpServerPublic.model_validate(await state.mcp.create(session, body.model_dump()))


@admin_router.get("/{server_id}", operation_id="admin_get_mcp_server")
async def get_server(server_id: str, _: AdminUser, state: AppStateDep, session: SessionDep) -> McpServerPublic:
    return McpServerPublic.model_validate(await state.mcp.get(session, server_id))


@admin_router.patch("/{server_id}", operation_id="admin_update_mcp_server")
async def update_server(server_id: str, body: McpServerUpdate, _: AdminUser, state: AppStateDep,
                        session: SessionDep) -> McpServerPublic:
    row = await state.mcp.update(session, server_id, body.model_dump(exclude_unset=True))
    return McpServerPublic.model_validate(row)


@admin_router.delete("/{server_id}", operation_id="admin_delete_mcp_server", status_code=status.HTTP_204_NO_CONTENT)
async def delete_server(server_id: str, _: AdminUser, state: AppStateDep, session: SessionDep) -> Response:
    await state.mcp.delete(session, server_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin_router.post("/{server_id}/test", operation_id="admin_test_mcp_server")
async def test_server(server_id: str, _: AdminUser, state: AppStateDep, session: SessionDep) -> McpConnectionTest:
    """Connect with the stored settings (even while disabled) and list the server's tools."""
    await session.close()  # no database connection held while the server is asked
    try:
        config, tools = await state.mcp.test_connection(server_id)
    except McpToolError as exc:
        error = _error(exc)
        if exc.__cause__ is not None:  # admins see the underlying error in full
            error["detail"] = describe_in_full(exc.__cause__)
        return McpConnectionTest(ok=False, error=error)
    return McpConnectionTest(ok=True, tools=_tools(config.name, tools))


@router.get("", operation_id="mcp_servers_list")
async def list_catalog(_: CurrentUser, state: AppStateDep, session: SessionDep) -> McpServerCatalog:
    """The enabled MCP servers and their tools (names, descriptions, input schemas), for choosing an
    assistant's tools. A server that cannot be reached comes with an ``error`` and no tools."""
    await session.close()  # no database connection held while the servers are asked
    entries = [McpServerCatalogEntry(id=e.id, name=e.name, description=e.description,
                                     tools=_tools(e.name, e.tools), error=_error(e.error) if e.error else None)
               for e in await state.mcp.catalog()]
    return McpServerCatalog(data=entries, count=len(entries))
