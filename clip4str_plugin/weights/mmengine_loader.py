"""Weights-only loading of MMEngine checkpoints on torch >= 2.6, without executing code.

MMEngine 0.10.7 calls ``torch.load`` without ``weights_only``; on torch >= 2.6 that refuses its own
training checkpoints (they pickle ``HistoryBuffer``, numpy values and the one-cycle scheduler's
annealing function), so ``--resume``, ``load_from``, ``tools/test.py`` and the inferencers' weights
fail. The usual fix, ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, makes every checkpoint executable.

:func:`load_checkpoint_file` reads the archive with the data-only unpickler: tensors, plain data,
numpy values, ``HistoryBuffer``, and the scheduler functions named below; everything else that the
file asks to *call* is refused (:class:`UnsafePickleError`) and nothing in the file is imported.
Nothing changes MMEngine at import: :func:`use_weights_only_loader` makes this reader MMEngine's
loader for local files (the tools call it; configs opt in by listing
``clip4str_plugin.weights.safe_loading`` in ``custom_imports``).
"""
import json
import os
import zipfile
from typing import Any, Dict, Set

import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.optim.scheduler import param_scheduler
from mmengine.runner.checkpoint import CheckpointLoader

from .safe_pickle import UnsafePickleError, load_zip_pickle

# The only attribute reads (``getattr``) a checkpoint may do: MMEngine pickles the statistics
# methods of HistoryBuffer and the annealing function of the one-cycle scheduler that way.
_ALLOWED_ATTRIBUTES: Dict[Any, Set[str]] = {
    HistoryBuffer: {'min', 'max', 'current', 'mean'},
    param_scheduler.OneCycleParamScheduler: {'_annealing_cos', '_annealing_linear'},
}


class _AttributeSource:
    """Stands for a class whose allowed attributes may be read; it cannot be called."""

    def __init__(self, cls: type):
        self.cls = cls

    def __repr__(self):
        return f'<attribute source {self.cls.__qualname__}>'


def _safe_getattr(source, name: str):
    cls = source.cls if isinstance(source, _AttributeSource) else source
    if name in _ALLOWED_ATTRIBUTES.get(cls, set()) | set(
            getattr(cls, '_statistics_methods', {}) if cls is HistoryBuffer else ()):
        return getattr(cls, name)
    raise UnsafePickleError(f'refusing getattr({source!r}, {name!r}) while unpickling')


MMENGINE_GLOBALS = {
    ('mmengine.logging.history_buffer', 'HistoryBuffer'): HistoryBuffer,
    ('mmengine.optim.scheduler.param_scheduler', 'OneCycleParamScheduler'):
        _AttributeSource(param_scheduler.OneCycleParamScheduler),
    ('builtins', 'getattr'): _safe_getattr,
}


def _to_device(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return type(obj)((k, _to_device(v, device)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def _load_safetensors(filename: str) -> dict:
    """``{'state_dict', 'meta'}`` from a safetensors file (meta as JSON in its metadata)."""
    from safetensors import safe_open
    with safe_open(filename, framework='pt') as f:
        state = {key: f.get_tensor(key) for key in f.keys()}
        metadata = f.metadata() or {}
    return dict(state_dict=state, meta=json.loads(metadata.get('meta', '{}')))


def load_checkpoint_file(filename: str, map_location=None) -> Any:
    """Load a torch checkpoint as data only; tensors on CPU unless ``map_location`` names a
    device (a callable map_location is ignored: state dicts are copied onto the model anyway)."""
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    if filename.endswith('.safetensors'):
        return _load_safetensors(filename)
    if not zipfile.is_zipfile(filename):   # legacy (pre-1.6) format: plain weights only
        return torch.load(filename, map_location='cpu', weights_only=True)
    checkpoint = load_zip_pickle(filename, extra_globals=MMENGINE_GLOBALS)
    if isinstance(map_location, (str, torch.device)) and str(map_location) != 'cpu':
        checkpoint = _to_device(checkpoint, map_location)
    return checkpoint


def use_weights_only_loader() -> None:
    """Make :func:`load_checkpoint_file` MMEngine's loader for every local path (``load_from``,
    ``resume``, inferencer weights). Idempotent; MMEngine's other schemes (URLs) stay."""
    if CheckpointLoader._schemes.get('') is not load_checkpoint_file:
        CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file, force=True)
