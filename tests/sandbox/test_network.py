"""No network: no internet sockets at all (seccomp), an empty network namespace, and no way to the
host's unix sockets (another mount and network namespace)."""

from __future__ import annotations

import socket
from pathlib import Path

from agentcreator.core.config import Settings
from agentcreator.sandbox import SandboxManager

CONNECT = """
import socket
def attempt(family, address):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(1)
        s.connect(address)
        return 'CONNECTED'
    except OSError as exc:
        return f'{type(exc).__name__}: {exc.strerror}'
"""


async def test_loopback_services_are_unreachable(manager: SandboxManager) -> None:
    ports = [Settings().port, 3306, 5432, 6379]
    code = CONNECT + f"[attempt(socket.AF_INET, ('127.0.0.1', p)) for p in {ports}] + " \
                     f"[attempt(socket.AF_INET6, ('::1', 6379))]"
    result = await manager.run("c1", code)
    assert result.error is None, result.error
    assert result.value == repr(["PermissionError: Permission denied"] * 5)


async def test_external_addresses_and_dns_are_unreachable(manager: SandboxManager) -> None:
    # TEST-NET-1 (never routed); the socket is refused before any packet could be sent anyway
    code = CONNECT + """
import ctypes
raw = ctypes.CDLL(None, use_errno=True).syscall(41, 2, 2, 0)  # socket(AF_INET, SOCK_DGRAM) without Python
try:
    socket.getaddrinfo('example.com', 443)
    dns = 'RESOLVED'
except OSError as exc:
    dns = type(exc).__name__
attempt(socket.AF_INET, ('192.0.2.1', 443)), raw, dns, attempt(socket.AF_PACKET, 0)
"""
    result = await manager.run("c1", code)
    assert result.error is None, result.error
    value = eval(result.value or "")
    assert value[0] == "PermissionError: Permission denied" and value[1] == -1
    assert value[2] == "gaierror" and value[3].startswith("PermissionError")


async def test_host_unix_sockets_are_unreachable(manager: SandboxManager, sandbox_root: Path) -> None:
    path = sandbox_root / "app.sock"
    abstract = f"\0agentcreator-test-{id(manager)}"
    servers = []
    for address in (str(path), abstract):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(address)
        server.listen()
        servers.append(server)
    path.chmod(0o777)
    try:
        code = CONNECT + (f"[attempt(socket.AF_UNIX, a) for a in "
                          f"[{str(path)!r}, {abstract!r}, '/run/mysqld/mysqld.sock', '/var/run/redis/redis.sock']]")
        result = await manager.run("c1", code)
    finally:
        for server in servers:
            server.close()
    assert result.error is None, result.error
    value = eval(result.value or "")
    assert value[0].startswith("FileNotFoundError")
    assert value[1].startswith("ConnectionRefusedError")  # abstract names are per network namespace
    assert all(v.startswith("FileNotFoundError") for v in value[2:])
