#!/usr/bin/env bash
# Frontend checks: OpenAPI client in sync, type check + build, Vitest unit tests, then Playwright
# end-to-end tests against the real backend (temporary SQLite data dir, free port) driving
# Debian's chromium. Prints one "N passed, N failed" line per suite.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
status=0
step() { echo; echo "== frontend: $* =="; }

step "dependencies"
frontend/scripts/ensure-deps.sh || exit 1

step "OpenAPI types in sync"
frontend/scripts/check-openapi.sh || status=1

step "type check + build"
scripts/build-frontend.sh >/tmp/ac-frontend-build.log 2>&1 || { cat /tmp/ac-frontend-build.log; echo "!! build failed"; exit 1; }
tail -1 /tmp/ac-frontend-build.log

step "unit tests (vitest)"
(cd frontend && npx --no-install vitest run) || status=1

step "end-to-end tests (playwright-core + chromium)"
if ! frontend/scripts/run-e2e.sh; then status=1; fi

exit $status
