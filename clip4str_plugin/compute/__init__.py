"""How the maths runs on this hardware, in one place.

The plain formulation is PyTorch's public API (``F.linear``, ``F.scaled_dot_product_attention``,
``torch.autocast``); the tuned paths, each kept because a measurement showed it paying on some
CPU class (docs/benchmarks.md), sit behind one switch, ``CLIP4STR_FASTPATH`` (:mod:`.switch`).

* :mod:`.switch`: the switch (``auto``, the default; ``off``: public API only; ``on``) and
  what it runs on this CPU, decided once per process.
* :mod:`.cpu`: the CPU's flags and vendor, a one-line description.
* :mod:`.kernels`: attention and the forward of open_clip's transformer blocks (the CLIP
  towers), with oneDNN's fp32 inference GEMMs: the only module calling private torch ops.
* :mod:`.precision`: the inference precision chosen by the hardware, weights cast once.
"""
from .kernels import transformer_forward
from .precision import resolve_precision, set_inference_precision
from .switch import current_plan

__all__ = ['current_plan', 'resolve_precision', 'set_inference_precision', 'transformer_forward']
