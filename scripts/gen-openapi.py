#!/usr/bin/env python3
"""Write the backend's OpenAPI spec (sorted keys, stable) for the typed frontend client.

Usage: scripts/gen-openapi.py [OUTPUT]   (default: frontend/openapi.json)
Set OPENAPI_SRC=DIR to import the backend from another source tree (e.g. a `git archive HEAD` copy,
so uncommitted backend work does not leak into the committed spec).
Then `npm --prefix frontend run gen:api` turns it into frontend/src/api/schema.d.ts.
create_app() only builds the routes: no database or model is needed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("OPENAPI_SRC") or str(ROOT / "src"))

from agentcreator.main import create_app  # noqa: E402


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "frontend" / "openapi.json"
    spec = create_app().openapi()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
