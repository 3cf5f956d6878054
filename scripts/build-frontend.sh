#!/usr/bin/env bash
# Build the web app into frontend/dist (type check + Vite build). The backend serves it.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
scripts/ensure-deps.sh
npm run --silent build
