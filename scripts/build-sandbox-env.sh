#!/usr/bin/env bash
# Prepare the code interpreter (docs/sandbox.md): bubblewrap and libseccomp from Debian, and the
# sandbox's Python packages in .sandbox-env/ (outside the app's venv), built for the system
# interpreter that runs inside the sandbox. Rebuilt only when the requirements change (a stamp).
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="${PIP:-.venv/bin/pip}"
SANDBOX_PYTHON="${SANDBOX_PYTHON:-/usr/bin/python3}"
ENV_DIR="${SANDBOX_ENV_DIR:-.sandbox-env}"
REQS=scripts/sandbox-requirements.txt
STAMP="$ENV_DIR/.built"

missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
ldconfig -p | grep -q 'libseccomp\.so\.2' || missing+=(libseccomp2)
[ -x "$SANDBOX_PYTHON" ] || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages for the code interpreter)"
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -q "${missing[@]}" || { apt-get update -q && apt-get install -y -q "${missing[@]}"; }
  else sudo apt-get install -y -q "${missing[@]}"; fi
fi

version=$("$SANDBOX_PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
# Up to date: built for this Python version, after the last change to the list and to this script.
if [ -f "$STAMP" ] && [ "$STAMP" -nt "$REQS" ] && [ "$STAMP" -nt "$0" ] && [ "$(cat "$STAMP")" = "$version" ]; then
  exit 0
fi
echo "building the sandbox's Python environment in $ENV_DIR for Python $version (numpy, pandas, matplotlib, openpyxl)"
rm -rf "$ENV_DIR.tmp"
mkdir -p "$ENV_DIR.tmp"
"$PIP" install --quiet --no-warn-script-location --target "$ENV_DIR.tmp/site" --python-version "$version" \
  --implementation cp --only-binary=:all: -r "$REQS"
# Matplotlib's font list, built once here: a fresh sandbox copies it instead of scanning fonts (~1 s).
mkdir -p "$ENV_DIR.tmp/mplconfig"
env -i PYTHONPATH="$ENV_DIR.tmp/site" MPLCONFIGDIR="$ENV_DIR.tmp/mplconfig" MPLBACKEND=Agg \
  "$SANDBOX_PYTHON" -c 'import matplotlib.font_manager, matplotlib.pyplot, pandas, numpy, openpyxl'
chmod -R a+rX "$ENV_DIR.tmp"
rm -rf "$ENV_DIR"
mv "$ENV_DIR.tmp" "$ENV_DIR"
echo "$version" > "$STAMP"
