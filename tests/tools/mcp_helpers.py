"""Helpers of the MCP tests: a fixed server directory, and what is left running (tasks, processes)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from agentcreator.tools.base import ToolContext
from agentcreator.tools.mcp import McpServerConfig
from tests.tools.conftest import SERVER_SCRIPT

CONTEXT = ToolContext(user_id="u1", conversation_id="c1", assistant_id="a1")


class Directory:
    """A fixed set of servers: the directory the factory reads (services.mcp_servers implements it over
    the database; tests/api/test_mcp_servers.py covers that one)."""

    def __init__(self, *servers: McpServerConfig) -> None:
        self.servers = {s.id: s for s in servers} | {s.name: s for s in servers}

    async def resolve(self, ref: str) -> McpServerConfig | None:
        return self.servers.get(ref)


_CLIENT_CODE = (f"{os.sep}mcp{os.sep}", f"{os.sep}anyio{os.sep}", f"{os.sep}httpx2{os.sep}",
                f"{os.sep}httpcore", f"agentcreator{os.sep}tools{os.sep}")


def mcp_tasks() -> set[asyncio.Task[object]]:
    """Running tasks of the MCP client (the SDK, anyio, httpx2, tools/mcp): other fixtures' background
    tasks (the app's chat service, a live server) are not this test's business."""
    found = set()
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if not task.done() and (task.get_name().startswith("mcp") or
                                (code is not None and any(p in code.co_filename for p in _CLIENT_CODE))):
            found.add(task)
    return found


def read_marker(path: Path) -> str:
    return path.read_text() if path.exists() else "nothing"


async def wait_for(path: Path, content: str, within: float = 10.0) -> None:
    """Until the marker file the test server's ``slow`` tool writes says ``content``."""
    deadline = asyncio.get_running_loop().time() + within
    while (found := read_marker(path)) != content:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{path.name}: expected {content!r}, found {found!r}")
        await asyncio.sleep(0.02)


def _children(matches: Callable[[bytes], bool]) -> set[int]:
    """Live (not zombie) child processes of this process whose command line ``matches``."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if state != "Z" and int(parent) == os.getpid() and matches(cmdline):
            found.add(int(stat.parent.name))
    return found


def server_processes() -> set[int]:
    """The stdio test servers this process runs."""
    return _children(lambda cmdline: SERVER_SCRIPT.name.encode() in cmdline)


def children_running(program: str) -> set[int]:
    return _children(lambda cmdline: cmdline.split(b"\x00")[0] == program.encode())


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
