"""sandbox/ sits below tools/ and above core/ only; the in-sandbox loop uses the standard library only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import agentcreator.sandbox as sandbox

SANDBOX_DIR = Path(sandbox.__file__).parent
FORBIDDEN = ("fastapi", "starlette", "sqlalchemy", "agentcreator.db", "agentcreator.api", "agentcreator.tools",
             "agentcreator.repositories", "agentcreator.chat", "agentcreator.services", "agentcreator.llm")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_sandbox_imports_no_upper_layer() -> None:
    offenders = {f"{path.name}: {name}" for path in SANDBOX_DIR.glob("*.py") for name in imported_modules(path)
                 if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)}
    assert not offenders, offenders


def test_the_loop_run_inside_needs_only_the_standard_library() -> None:
    imports = {name.split(".")[0] for name in imported_modules(SANDBOX_DIR / "repl_server.py")}
    assert imports and imports <= set(sys.stdlib_module_names), imports - set(sys.stdlib_module_names)
