#!/usr/bin/env bash
# Create .venv and install the verified stack plus this package (editable) in one pip call: the
# package's ranges (requirements/runtime.txt) pinned by requirements/constraints.txt, with mmcv-lite
# (the `lite` extra), the test tools, the browser demo (the `demo` extra: gradio) and the word
# lists and fonts for rendered data (the `synth` extra). Idempotent:
# returns at once when the venv already matches requirements/ and setup.py. Into an existing MMOCR
# environment, see docs/install.md instead.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLIP4STR_VENV:-$ROOT/.venv}"
STAMP="$VENV/.clip4str_install_stamp"
WANT="$(cat "$ROOT/requirements/"*.txt "$ROOT/setup.py" | sha256sum | cut -d' ' -f1)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
    && "$VENV/bin/python" -c 'import clip4str_mmcv_lite, clip4str_plugin' >/dev/null 2>&1; then
  exit 0
fi

echo "[install] creating $VENV and installing the verified stack (about 2 minutes on a fresh machine)"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q \
  -c "$ROOT/requirements/constraints.txt" -c "$ROOT/requirements/constraints-deploy.txt" \
  -c "$ROOT/requirements/constraints-demo.txt" -e "$ROOT[lite,tests,demo,synth]"
"$VENV/bin/python" -c 'import clip4str_mmcv_lite, clip4str_plugin, mmocr.models, open_clip' \
  || { echo "[install] the installed stack does not import" >&2; exit 1; }
echo "$WANT" > "$STAMP"
echo "[install] done"
