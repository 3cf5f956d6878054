#!/usr/bin/env bash
# Start the real backend on a free port with a throw-away data dir, run e2e/*.test.mjs with
# `node --test`, stop the backend. Needs frontend/dist (scripts/build-frontend.sh).
# Screenshots go to a temporary directory (printed at the end), or to docs/screenshots with
# SCREENSHOTS=1 (`npm run screenshots`), so an ordinary test run leaves the work tree clean.
# Arguments (spec files relative to frontend/, e.g. e2e/chat.test.mjs) run only those specs.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium (first run only)..."
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null \
    || { echo "!! could not install chromium"; exit 1; }
fi

# Emoji the small model likes to write render as boxes in screenshots without a colour emoji font.
if [ ! -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null 2>&1 || true
fi

PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "!! $PY missing: run 'make install' first"; exit 1; }
PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
DATA="$(mktemp -d)"
chmod 711 "$DATA"  # the code interpreter's sandboxes (pooled uids) reach DATA/sandbox through it
LOG="$DATA/server.log"
if [ -x "$ROOT/.venv/bin/agentcreator" ]; then CLI=("$ROOT/.venv/bin/agentcreator")
else CLI=("$PY" -m agentcreator.cli); fi
SERVE=("${CLI[@]}" serve)

# The OpenAI double (tests/llm/openai_double.py) as a second provider, "double": a model that calls
# tools, scripted by the specs through its control route (e2e/tools.test.mjs). The default stays local.
DOUBLE_PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PYTHONPATH="$ROOT" "$PY" -m tests.llm.openai_double --port "$DOUBLE_PORT" >"$DATA/double.log" 2>&1 &
DOUBLE=$!
export LLM__COMPATIBLE_ENDPOINTS="[{\"name\": \"double\", \"base_url\": \"http://127.0.0.1:$DOUBLE_PORT/v1\", \"models\": [{\"name\": \"gpt-4o-mini\", \"tools\": true}]}]"
export DOUBLE_URL="http://127.0.0.1:$DOUBLE_PORT"
# HTTP function tools in the specs call this server's own /health/ready: admit it past the SSRF guard.
export OUTBOUND__ALLOW_HOSTS="127.0.0.1:$PORT"

export SANDBOX__ENV_DIR="$ROOT/.sandbox-env" SANDBOX__NICE=0  # nice 19 starves it on a busy CI machine
export DATA_DIR="$DATA" PYTHONPATH="$ROOT/src" AGENTCREATOR_ENV=development \
  AUTH__ARGON2_MEMORY_COST=8192 AUTH__ARGON2_TIME_COST=1 \
  AUTH__REGISTRATIONS_PER_ADDRESS=1000  # every e2e user registers from 127.0.0.1
ADMIN_EMAIL="admin-e2e@example.com"
ADMIN_PASSWORD="admin-e2e-pass-1"
WEB_DIR="$ROOT/frontend/dist" "${SERVE[@]}" --host 127.0.0.1 --port "$PORT" >"$LOG" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  kill "$DOUBLE" 2>/dev/null && wait "$DOUBLE" 2>/dev/null
  rm -rf "$DATA"
}
trap cleanup EXIT

ready=0
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.5
done
if [ "$ready" != 1 ]; then
  echo "!! backend did not become ready on port $PORT"; cat "$LOG"; exit 1
fi

# An administrator, made the way an operator would (serve has migrated the database by now).
"${CLI[@]}" create-admin --email "$ADMIN_EMAIL" --name "Alex Admin" --password "$ADMIN_PASSWORD" >/dev/null \
  || { echo "!! create-admin failed"; exit 1; }

if [ "${SCREENSHOTS:-0}" = 1 ]; then
  SHOTS="$ROOT/docs/screenshots"
else
  SHOTS="${TMPDIR:-/tmp}/agentcreator-e2e-screenshots-$(id -u)"
  rm -rf "$SHOTS"
fi

cd frontend
ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" BASE_URL="http://127.0.0.1:$PORT" SCREENSHOT_DIR="$SHOTS" DOUBLE_URL="$DOUBLE_URL" \
  node --test --test-concurrency=1 --test-reporter=spec "${@:-e2e/}" 2>&1 | tee "$DATA/e2e.out"
rc=${PIPESTATUS[0]}
if [ "$rc" != 0 ]; then
  echo "-- backend log (tail) --"; tail -40 "$LOG"
  # The failures once more, last: a CI summary that shows only the end of the output still has them.
  echo "-- failing tests (again) --"; sed -n '/failing tests:/,$p' "$DATA/e2e.out" | head -60
fi
echo "screenshots: $SHOTS"
exit $rc
