"""llm/ stays below the web and database layers, and its public surface is explicit."""

from __future__ import annotations

import ast
import subprocess
import sys
import types
from pathlib import Path

import agentcreator.llm as llm

LLM_DIR = Path(llm.__file__).parent
FORBIDDEN = ("fastapi", "starlette", "sqlalchemy", "agentcreator.db", "agentcreator.api",
             "agentcreator.repositories", "agentcreator.chat", "agentcreator.services")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_llm_imports_no_upper_layer() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in LLM_DIR.glob("*.py")
        for name in imported_modules(path)
        if any(name == forbidden or name.startswith(forbidden + ".") for forbidden in FORBIDDEN)
    }
    assert not offenders, offenders


def test_importing_llm_loads_neither_web_nor_database_code() -> None:
    code = ("import sys, agentcreator.llm.registry, agentcreator.llm.testing; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {('fastapi', 'sqlalchemy', 'llama_cpp')!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=LLM_DIR.parents[2])
    assert result.stdout.strip() == "[]"  # llama_cpp too: it is loaded only when a local model is used


def test_exported_members() -> None:
    exported = set(llm.__all__)
    public = {name for name in dir(llm)
              if not name.startswith("_") and not isinstance(getattr(llm, name), types.ModuleType)}
    assert exported == public
    assert {"ModelProvider", "ModelRegistry", "StreamEvent", "TextDelta", "Completed", "Failed"} <= exported
