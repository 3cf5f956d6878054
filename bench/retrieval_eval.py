"""A retrieval eval built from docstrings: the running Python's standard library, and (a second,
held-out set) the third-party packages the platform installs.

For each public function, class and method of a fixed list of modules whose docstring has a summary
paragraph and a body, the summary is a query and the body the passage that answers it. Pairs whose
summary repeats another's are dropped (they have no single right answer); the rest are sorted by
qualified name and, above ``limit``, taken evenly spaced. Nothing here was tuned to the results:
the module list is "common modules that import without side effects" and the filters only keep
pairs that are pairs (a summary of at least 4 words, a body of 80 to 3000 characters).

The package set was added to check the fusion method on text it was not chosen on (docs/knowledge.md):
its modules are the public ones of the platform's own dependencies, listed before any result was seen.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass

MODULES = (
    "abc argparse array ast asyncio base64 bisect bz2 calendar cmath codecs collections colorsys "
    "concurrent.futures configparser contextlib copy csv dataclasses datetime decimal difflib dis email "
    "enum filecmp fileinput fnmatch fractions ftplib functools gettext glob gzip hashlib heapq hmac html "
    "http.client http.cookies imaplib inspect io ipaddress itertools json logging lzma mailbox math "
    "mimetypes numbers operator optparse os pathlib pickle pkgutil platform plistlib poplib pprint queue "
    "quopri random re reprlib sched secrets selectors shelve shlex shutil signal smtplib socket "
    "socketserver sqlite3 statistics string struct subprocess tarfile tempfile textwrap threading "
    "timeit tokenize trace traceback types typing unittest urllib.parse urllib.request uuid warnings "
    "wave weakref xml.dom.minidom xml.etree.ElementTree zipfile zlib"
).split()

PACKAGE_MODULES = (
    "sqlalchemy.orm sqlalchemy.engine sqlalchemy.sql pydantic httpx starlette.requests starlette.responses "
    "fastapi numpy numpy.linalg numpy.random jinja2 alembic.op click yaml openai markdown_it pygments "
    "onnxruntime tokenizers argon2 redis.client aiosqlite multipart anyio h11 websockets uvicorn.config "
    "trafilatura mcp.client.session mcp.server.fastmcp sqlalchemy.ext.asyncio sqlalchemy.schema "
    "pydantic_settings starlette.routing starlette.applications stream_zip snowballstemmer semchunk pypdf "
    "docx openpyxl pptx PIL.Image bs4 lxml.html llama_cpp numpy.ma numpy.fft numpy.polynomial"
).split()
CORPORA = {"stdlib": MODULES, "packages": PACKAGE_MODULES}


@dataclass(frozen=True)
class Pair:
    name: str
    query: str
    passage: str


def _split(doc: str) -> tuple[str, str] | None:
    parts = doc.strip().split("\n\n", 1)
    if len(parts) != 2:
        return None
    summary = " ".join(parts[0].split())
    body = parts[1].strip()
    if len(summary.split()) < 4 or not 80 <= len(body) <= 3000:
        return None
    return summary, body


def _members(module_name: str) -> list[tuple[str, object]]:
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - a module that does not import here (a missing extra): not in the set
        return []
    out: list[tuple[str, object]] = []
    for name, value in sorted(vars(module).items()):
        if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(value):
            out.append((f"{module_name}.{name}", value))
            for attr, member in sorted(vars(value).items()):
                if not attr.startswith("_") and (inspect.isfunction(member) or inspect.ismethoddescriptor(member)):
                    out.append((f"{module_name}.{name}.{attr}", member))
        elif inspect.isfunction(value):
            out.append((f"{module_name}.{name}", value))
    return out


def docstring_pairs(limit: int, modules: tuple[str, ...] | list[str] = MODULES) -> list[Pair]:
    found: dict[str, Pair] = {}
    repeated: set[str] = set()
    for module_name in modules:
        for qualified, value in _members(module_name):
            doc = inspect.getdoc(value)
            split = _split(doc) if doc else None
            if split is None:
                continue
            summary, body = split
            key = summary.lower()
            if key in found or key in repeated:
                found.pop(key, None)
                repeated.add(key)
                continue
            found[key] = Pair(qualified, summary, body)
    pairs = sorted(found.values(), key=lambda p: p.name)
    if len(pairs) > limit:
        step = len(pairs) / limit
        pairs = [pairs[int(i * step)] for i in range(limit)]
    return pairs
