"""The one switch between PyTorch's public-API maths and the tuned paths: ``CLIP4STR_FASTPATH``.

* ``auto`` (the default): the tuned paths that measurements showed paying on this CPU class
  (docs/benchmarks.md, "Recognition speed"): the fused block forward everywhere, the plain
  attention of bf16 / fp16 CPU training everywhere, oneDNN's fp32 GEMMs only on AMD CPUs with
  AVX-512 (where MKL runs its AVX2 code).
* ``off``: the public API only (``F.linear``, ``F.scaled_dot_product_attention``, open_clip's
  MLP modules); the reference to compare the tuned paths against.
* ``on``: every tuned path, oneDNN's GEMMs included, on any CPU: to measure them on a new class.

Under autocast, tracing, ONNX export and ``torch.compile`` the public API runs whatever the switch
says (:mod:`.onednn`, :mod:`.blocks`).
"""
import os

from mmengine.logging import print_log

ENV = 'CLIP4STR_FASTPATH'
CHOICES = ('auto', 'off', 'on')
_logged = set()


class FastpathSwitchError(ValueError):
    """``CLIP4STR_FASTPATH`` names none of :data:`CHOICES`."""


def fastpath() -> str:
    """The switch's value (``auto`` when unset); the first read of each value is logged."""
    value = os.environ.get(ENV, 'auto').lower()
    if value not in CHOICES:
        raise FastpathSwitchError(f'{ENV} must be one of {", ".join(CHOICES)}; got {value!r}')
    if value not in _logged:
        _logged.add(value)
        print_log(f'{ENV}={value}: ' + dict(
            auto='tuned paths where measured to pay on this CPU class',
            off='public PyTorch API only', on='every tuned path')[value], logger='current')
    return value
