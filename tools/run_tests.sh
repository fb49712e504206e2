#!/usr/bin/env bash
# README command 2: install if needed, then run the test suite (a few minutes on 2 cores).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/install.sh"
cd "$ROOT"
exec "${CLIP4STR_VENV:-$ROOT/.venv}/bin/python" -m pytest -q "$@"
