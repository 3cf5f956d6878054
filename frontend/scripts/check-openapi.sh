#!/usr/bin/env bash
# Fail when frontend/openapi.json or src/api/schema.d.ts no longer match the backend's API.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY=python3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$ROOT"
PYTHONPATH=src "$PY" scripts/gen-openapi.py "$tmp/openapi.json" >/dev/null
(cd frontend && npx --no-install openapi-typescript "$tmp/openapi.json" -o "$tmp/schema.d.ts" --default-non-nullable=false >/dev/null 2>&1)
stale=0
cmp -s "$tmp/openapi.json" frontend/openapi.json || { echo "!! frontend/openapi.json is out of date"; stale=1; }
cmp -s "$tmp/schema.d.ts" frontend/src/api/schema.d.ts || { echo "!! frontend/src/api/schema.d.ts is out of date"; stale=1; }
if [ "$stale" = 1 ]; then
  diff -u frontend/openapi.json "$tmp/openapi.json" | head -40 || true
  echo "The typed API client no longer matches the backend. Regenerate and commit:"
  echo "    .venv/bin/python scripts/gen-openapi.py && npm --prefix frontend run gen:api"
  exit 1
fi
echo "OpenAPI spec and generated types are in sync."
