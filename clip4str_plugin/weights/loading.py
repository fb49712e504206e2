"""Reading a checkpoint file weights-only: nothing in it is run.

:func:`load_checkpoint_file` checks the file's bytes (:func:`inspect_checkpoint`), reads it with
torch's weights-only unpickler, allowing besides tensors only what MMEngine's training
checkpoints hold (``HistoryBuffer``, numpy arrays, scalars and dtypes, a few attribute reads),
and re-writes the configs it carries as data (:mod:`clip4str_plugin.config_text`). Every
failure is one :class:`~.errors.CheckpointReadError` line.
"""
import collections
import copy
import json
import os
import os.path as osp
import pickle
import re
import threading
import weakref
import zipfile
from contextlib import contextmanager
from typing import Any, Mapping, Optional, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.optim.scheduler.param_scheduler import OneCycleParamScheduler
from safetensors import SafetensorError, safe_open

from ..config_text import config_in_checkpoint, data_only_configs
from .errors import (MALFORMED_PICKLE_ERRORS, CheckpointNotFoundError, CheckpointReadError,
                     unpickling_reason)
from .sparse_rows import load_file_sparse_rows
from .zip_limits import ArchiveFacts, archive_facts, inflation_problem

# The only attribute reads (``getattr``) a checkpoint may do.
_ATTRIBUTES = {HistoryBuffer: {'min', 'max', 'current', 'mean'},
               OneCycleParamScheduler: {'_annealing_cos', '_annealing_linear'}}


class _Attributes:
    """Stands for a class whose allowed attributes may be read; calling it is refused."""

    def __init__(self, cls: type):
        self.cls = cls

    def __call__(self, *args):
        raise pickle.UnpicklingError(f'refusing to call {self.cls.__qualname__}')


def _getattr(source, name: str):
    cls = source.cls if isinstance(source, _Attributes) else source
    if name in _ATTRIBUTES.get(cls, ()):
        return getattr(cls, name)
    raise pickle.UnpicklingError(f'refusing getattr({cls!r}, {name!r})')


def _numpy_dtype(spec, align=False, copy=True) -> np.dtype:
    """``numpy.dtype`` always copied, so that ``BUILD`` fills in the file's own dtype."""
    return np.dtype(spec, align, True)


_MMENGINE_GLOBALS = [
    HistoryBuffer, np.ndarray, (_numpy_dtype, 'numpy.dtype'), (_getattr, 'builtins.getattr'),
    (_Attributes(OneCycleParamScheduler), f'{OneCycleParamScheduler.__module__}.'
                                          'OneCycleParamScheduler'),
    *((fn, f'{module}.{fn.__name__}') for module in ('numpy.core.multiarray',
                                                       'numpy._core.multiarray')
      for fn in (np.core.multiarray._reconstruct, np.core.multiarray.scalar)),
    *((t, f'numpy.dtypes.{t.__name__}') for t in {type(np.dtype(c)) for c in np.typecodes['All']}),
]
_LOCK = threading.Lock()    # torch's allow-list is process-wide: one load at a time adds to it
_SOURCES: collections.deque = collections.deque(maxlen=8)   # (weakref, tensor ids, file name)


@contextmanager
def _allowing(extra: list):
    """torch's weights-only allow-list plus ``extra``, for one load."""
    with _LOCK:
        present = set(torch.serialization.get_safe_globals())
        with torch.serialization.safe_globals([g for g in extra if g not in present]):
            yield


def inspect_checkpoint(path: str) -> Tuple[Optional[str], Optional[ArchiveFacts]]:
    """(what is wrong with the bytes of ``path`` or None: size, zip directory, CRCs; the
    :class:`ArchiveFacts` of a sound torch zip archive, else None); the directory parsed once."""
    with open(path, 'rb') as f:
        head = f.read(8)
    if not head:
        return 'the file is empty (0 bytes): an interrupted save?', None
    if path.endswith('.safetensors') or head.startswith(b'\x80'):  # a legacy torch.save pickle
        return None, None
    if not head.startswith(b'PK'):
        return (f'not a torch checkpoint (it starts with {head!r}): give a .pth written by '
                'torch.save or an MMEngine run'), None
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        return (f'truncated: the end of the zip archive is missing ({os.path.getsize(path)} '
                f'bytes; {err}): an interrupted save or copy? Use an intact checkpoint'), None
    with archive:
        inflating = inflation_problem(archive)
        if inflating:
            return inflating, None
        try:
            damaged = archive.testzip()
            facts = None if damaged else archive_facts(archive)
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            damaged = f'? ({err})'
    return (f'damaged: record {damaged} fails its check; use an intact checkpoint', None) \
        if damaged else (None, facts)


def checkpoint_problem(path: str) -> Optional[str]:
    """What is wrong with the bytes of ``path`` (or None): :func:`inspect_checkpoint`."""
    return inspect_checkpoint(path)[0]


def checked_file(filename: str) -> Tuple[str, Optional[ArchiveFacts]]:
    """``filename`` (user expanded), if it exists and :func:`inspect_checkpoint` sees nothing
    wrong, and its :class:`ArchiveFacts` (None: not a zip archive)."""
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise CheckpointNotFoundError(f'checkpoint not found: {filename}')
    problem, facts = inspect_checkpoint(filename)
    if problem:
        raise CheckpointReadError(f'cannot read checkpoint {filename}: {problem}')
    return filename, facts


def check_checkpoint_file(filename: str) -> str:
    """``filename`` (user expanded) if :func:`checked_file` passes it."""
    return checked_file(filename)[0]


def load_error(source: str, err: Exception) -> CheckpointReadError:
    """One line for what torch's weights-only reader refused or could not read."""
    reason = unpickling_reason(err) if isinstance(err, pickle.UnpicklingError) else \
        f'{type(err).__name__}: {str(err)[:200]}'
    if not isinstance(err, pickle.UnpicklingError) or \
            not re.search(r'GLOBAL|reduce|Can only|refusing', reason):
        return CheckpointReadError(f'cannot read checkpoint {source}: damaged ({reason})')
    if re.search(r'lightning|omegaconf|strhub', reason):
        return CheckpointReadError(
            f'refusing {source}: it looks like an official CLIP4STR (Lightning) checkpoint; '
            f'convert it first: tools/convert_clip4str_ckpt.py ({reason})')
    return CheckpointReadError(f'refusing {source}: {reason}; a checkpoint may hold only tensors '
                               'and plain data, and nothing in it is run (docs/refusals.md)')


def torch_load(source: str, load, *args, allowed=_MMENGINE_GLOBALS, **kwargs) -> Any:
    """``load(*args, **kwargs)`` (``torch.load`` or a function ending in it), weights-only,
    allowing ``allowed`` too."""
    try:
        with _allowing(allowed):
            return load(*args, weights_only=True, **kwargs)
    except (pickle.UnpicklingError, *MALFORMED_PICKLE_ERRORS) as err:
        raise load_error(source, err) from None


def as_data(checkpoint: Any, source: str) -> Mapping:
    """``checkpoint`` after its checks: a mapping, its configs re-written as data."""
    if not isinstance(checkpoint, Mapping):
        raise CheckpointReadError(f'{source} holds a {type(checkpoint).__name__}, not a '
                                  'checkpoint (a dict of tensors, or one with a state_dict)')
    data_only_configs(checkpoint, source)
    state = checkpoint.get('state_dict', checkpoint)
    tensors = [v for v in state.values() if isinstance(v, (torch.Tensor, np.ndarray))] \
        if isinstance(state, Mapping) else []      # (numpy: what a damaged file may hold)
    if tensors:
        _SOURCES.append((weakref.ref(tensors[0]), set(map(id, tensors)), source))
    return checkpoint


def source_of(state_dict: Mapping) -> str:
    """The file whose tensors ``state_dict`` holds (MMEngine hands a model a re-keyed copy of
    what it read: the same tensor objects), else ``'the checkpoint'``."""
    ids = {id(v) for v in state_dict.values()}
    return next((path for ref, held, path in reversed(_SOURCES)
                 if ref() is not None and ids & held), 'the checkpoint')


def load_checkpoint_file(filename: str, map_location=None, mmap: bool = False) -> Mapping:
    """A torch checkpoint or safetensors file (``{'state_dict', 'meta'}``) read as data only.
    ``mmap``: ``state_dict`` as views of a private map of the file, for a caller that drops them
    before the file could be rewritten; the rest is copied off the map."""
    return read_checked_file(*checked_file(filename), map_location, mmap)


def read_checked_file(filename: str, facts: Optional[ArchiveFacts], map_location=None,
                      mmap: bool = False) -> Mapping:
    """:func:`load_checkpoint_file` of what :func:`checked_file` returned."""
    if filename.endswith('.safetensors'):
        try:
            with safe_open(filename, framework='pt') as f:
                meta = json.loads((f.metadata() or {}).get('meta', '{}'))
            state = load_file_sparse_rows(filename)
        except (SafetensorError, OSError, json.JSONDecodeError) as err:
            raise CheckpointReadError(f'cannot read checkpoint {filename}: damaged safetensors '
                                      f'file ({err})') from None
        return as_data(dict(state_dict=state, meta=meta), filename)
    if facts is not None and facts.torchscript:
        raise CheckpointReadError(
            f'{filename} is a TorchScript archive (such as OpenAI CLIP weights), not a '
            "checkpoint: give it as the CLIP towers' weights (model.backbone.pretrained and "
            'model.decoder.text_encoder.pretrained), or convert an official CLIP4STR file with '
            'tools/convert_clip4str_ckpt.py')
    mmap = mmap and facts is not None and facts.stored   # (a legacy pickle: not mappable)
    checkpoint = torch_load(filename, torch.load, filename, map_location=map_location or 'cpu',
                            mmap=mmap)
    if mmap and isinstance(checkpoint, Mapping) and 'state_dict' in checkpoint:
        checkpoint = {key: value if key == 'state_dict' else copy.deepcopy(value)
                      for key, value in checkpoint.items()}
    return as_data(checkpoint, filename)


def checkpoint_config(filename: str) -> Config:
    """The config ``filename`` carries, as data: ``TextRecInferencer(model=checkpoint_config(path),
    weights=path)``."""
    return config_in_checkpoint(load_checkpoint_file(filename), filename)
