#!/usr/bin/env bash
# Install frontend/node_modules with `npm ci`, only when package-lock.json (or Node) changed since
# the last install. Sourced or run from anywhere.
set -euo pipefail
FRONTEND="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$FRONTEND"
if ! command -v npm >/dev/null; then
  echo "npm is not installed: install Node.js 20+ (e.g. apt-get install nodejs npm)" >&2
  exit 1
fi
want="$(cat package-lock.json package.json | sha256sum | cut -d' ' -f1) node-$(node --version)"
stamp="node_modules/.ac-installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "Installing frontend packages (npm ci)..."
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
