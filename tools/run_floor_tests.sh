#!/usr/bin/env bash
# The core path (build, predict, a training step, checkpoint conversion, weights-only loading)
# on the OLDEST torch the package declares (requirements/runtime.txt), in a venv of its own:
# the verified stack of requirements/constraints.txt with torch / torchvision at the floor.
# Idempotent like tools/install.sh. CI runs it after the test suite; about 6 GB.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLIP4STR_FLOOR_VENV:-$ROOT/.venv-floor}"
TORCH_FLOOR="$(sed -n 's/^torch>=\([0-9.]*\).*/\1/p' "$ROOT/requirements/runtime.txt")"
TORCH_PIN="$(sed -n 's/^torch==//p' "$ROOT/requirements/constraints-floor.txt")"
VISION_PIN="$(sed -n 's/^torchvision==//p' "$ROOT/requirements/constraints-floor.txt")"
case "$TORCH_PIN" in
  "$TORCH_FLOOR"*) ;;
  *) echo "[floor] requirements/constraints-floor.txt pins torch $TORCH_PIN, but the declared" \
          "floor is torch>=$TORCH_FLOOR: make them agree" >&2; exit 1 ;;
esac
STAMP="$VENV/.clip4str_install_stamp"
WANT="$(cat "$ROOT/requirements/"*.txt "$ROOT/setup.py" | sha256sum | cut -d' ' -f1)"
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
grep -v -E '^(torch|torchvision)==' "$ROOT/requirements/constraints.txt" > "$CONSTRAINTS"
printf 'torch==%s\ntorchvision==%s\n' "$TORCH_PIN" "$VISION_PIN" >> "$CONSTRAINTS"

if ! { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; }; then
  echo "[floor] creating $VENV with torch $TORCH_PIN (a few minutes on a fresh machine)"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" \
    -e "$ROOT[lite]" "pytest>=7"
  echo "$WANT" > "$STAMP"
fi
"$VENV/bin/python" -c "import torch; assert torch.__version__.startswith('$TORCH_PIN'), torch.__version__"
cd "$ROOT"
# build + predict against the official outputs; weights-only loading; conversion; a training
# step (losses, backward, the fused AdamW of the schedule); MMOCR's inferencer on our checkpoints
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@" \
  tests/models/clip4str/test_official_parity.py \
  tests/weights/test_loading.py \
  tests/weights/test_official_checkpoint.py \
  tests/tools/test_convert_clip4str_ckpt.py::test_converts_the_official_fixture_and_reproduces_it \
  tests/models/clip4str/test_decoder.py \
  tests/engine/test_optim.py \
  tests/test_inferencer.py
