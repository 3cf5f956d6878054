#!/usr/bin/env bash
# Build llama-cpp-python once per machine (cached) for a portable CPU baseline, and install it.
#
# pip would build it with llama.cpp's default GGML_NATIVE=ON (-march=native): on a CPU with AMX
# (recent Xeons) that build runs matrix products on AMX tiles, and where the kernel or the virtual
# machine does not grant the tile state the first generation dies with SIGSEGV (`ldtilecfg` in
# ggml_backend_amx_mul_mat). It also ties the wheel in pip's cache to the CPU that built it. So on
# x86-64 the wheel targets x86-64-v3 (AVX2, FMA, F16C, BMI2: every x86 server CPU since 2013), and
# is kept under ~/.cache/agentcreator/wheels/, keyed by version, flags and Python: the ~6 minute
# build is paid once per machine. LLAMA_CMAKE_ARGS overrides the flags.
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="${PIP:-.venv/bin/pip}"
PY="$(dirname "$PIP")/python"
version="$(sed -n 's/.*"llama-cpp-python==\([^"]*\)".*/\1/p' pyproject.toml)"
[ -n "$version" ] || { echo "llama-cpp-python is not pinned in pyproject.toml" >&2; exit 1; }
args="${LLAMA_CMAKE_ARGS-}"
if [ -z "${LLAMA_CMAKE_ARGS+set}" ] && [ "$(uname -m)" = x86_64 ]; then
  args="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
fi
python_tag="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
key="$(printf '%s|%s|%s|%s' "$version" "$args" "$python_tag" "$(uname -m)" | sha256sum | cut -c1-12)"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/agentcreator/wheels/llama-cpp-python-$version-$key"
if ! compgen -G "$dir/llama_cpp_python-*.whl" >/dev/null; then
  echo "Building llama-cpp-python $version (${args:-native flags}): ~6 minutes, once per machine..."
  tmp="$dir.partial.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  CMAKE_ARGS="$args" "$PIP" wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python \
    "llama-cpp-python==$version" -w "$tmp"
  rm -rf "$dir" && mv "$tmp" "$dir"
fi
"$PIP" install --quiet --no-deps --force-reinstall "$dir"/llama_cpp_python-*.whl
