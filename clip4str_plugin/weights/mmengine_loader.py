"""Weights-only loading of MMEngine checkpoints, and the switch that makes it MMEngine's loader.

MMEngine 0.10.7 calls ``torch.load`` without ``weights_only``: on torch >= 2.6 its own training
checkpoints (``HistoryBuffer``, numpy values, the one-cycle scheduler's annealing function) are
refused, and the usual fix, ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, makes every file executable.

:func:`load_checkpoint_file` reads with torch's own weights-only unpickler, allowing during the
load only what MMEngine checkpoints hold besides tensors: ``HistoryBuffer``, numpy arrays and
scalars, and the attribute reads (``getattr``) of HistoryBuffer's statistics and of the
scheduler's annealing functions. torch's reader calls only allow-listed globals and fills in
(``BUILD``, ``SETITEM``, ``APPEND``) only objects of allow-listed types that the file itself
built, so a file can neither run code nor change shared objects. The file's bytes are checked
first (empty, truncated, a record failing its CRC, not a checkpoint at all); every failure is one
:class:`~.errors.CheckpointReadError` line naming the file.

Loaded by MMEngine (:func:`load_from_weights_only`), the weights of an uncompressed archive
(every ``torch.save`` file) are views of a private, copy-on-write map of the file
(``torch.load(mmap=True)``), not heap copies: MMEngine copies them into the model and drops the
checkpoint, and the map goes with it, leaving no freed-but-retained heap behind (glibc keeps large
freed buffers), so a converted B/16 checkpoint costs no more memory than in the official code.
Writes go to private pages, never to the file. Tensors outside ``state_dict`` (the optimiser
state of a resumed run, which lives on) are copied, so that no checkpoint stays mapped. A
re-compressed archive is read into memory (a map would show its compressed bytes). Direct calls
of :func:`load_checkpoint_file` read into memory: their caller may rewrite the file in place,
which would pull the pages from under a map.

Importing changes nothing in MMEngine: :func:`use_weights_only_loader` is the switch (the tools
call it; configs list ``clip4str_plugin.weights.safe_loading`` in ``custom_imports``).
"""
import json
import os
import pickle
import re
import threading
import zipfile
from contextlib import contextmanager
from typing import Any, Mapping, Optional

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.optim.scheduler import param_scheduler
from mmengine.runner.checkpoint import CheckpointLoader

from .config_text import data_only_configs
from .errors import (MALFORMED_PICKLE_ERRORS, CheckpointNotFoundError, CheckpointReadError,
                     unpickling_reason)
from .file_map import in_memory, mappable
from .safe_pickle import is_torchscript_archive
from .shape_checks import install_fit_check, remember_source
from .unpickler import numpy_dtype_copy
from .zip_limits import inflation_problem

# The only attribute reads (``getattr``) a checkpoint may do: MMEngine pickles the statistics
# methods of HistoryBuffer and the annealing function of the one-cycle scheduler that way.
_ALLOWED_ATTRIBUTES = {
    HistoryBuffer: frozenset({'min', 'max', 'current', 'mean'}),
    param_scheduler.OneCycleParamScheduler: frozenset({'_annealing_cos', '_annealing_linear'}),
}


class _AttributeSource:
    """Stands for a class whose allowed attributes may be read; it can be neither called nor
    changed (torch builds only objects of allow-listed types, and this type is not one)."""

    __slots__ = ('cls', )

    def __init__(self, cls: type):
        object.__setattr__(self, 'cls', cls)

    def __setattr__(self, name, value):
        raise AttributeError('read-only')

    def __call__(self, *args):
        raise pickle.UnpicklingError(f'refusing to call {self.cls.__qualname__}')

    def __repr__(self):
        return f'<attribute source {self.cls.__qualname__}>'


def _safe_getattr(source, name: str):
    cls = source.cls if isinstance(source, _AttributeSource) else source
    if name in _ALLOWED_ATTRIBUTES.get(cls, ()):
        return getattr(cls, name)
    raise pickle.UnpicklingError(f'refusing getattr({source!r}, {name!r})')


_MMENGINE_GLOBALS = [
    HistoryBuffer, np.ndarray, (numpy_dtype_copy, 'numpy.dtype'),
    (_safe_getattr, 'builtins.getattr'),
    (_AttributeSource(param_scheduler.OneCycleParamScheduler),
     'mmengine.optim.scheduler.param_scheduler.OneCycleParamScheduler'),
    *((fn, f'{module}.{fn.__name__}') for module in ('numpy.core.multiarray',
                                                       'numpy._core.multiarray')
      for fn in (np.core.multiarray._reconstruct, np.core.multiarray.scalar)),
    # the dtypes numpy arrays are built with (copies, see numpy_dtype_copy)
    *((t, f'numpy.dtypes.{t.__name__}') for t in {type(np.dtype(c))
                                                  for c in np.typecodes['All']}),
]
_LOCK = threading.Lock()    # torch's allow-list is process-wide: one load at a time adds to it


@contextmanager
def _mmengine_globals():
    """torch's weights-only allow-list plus MMEngine's globals, for one load."""
    with _LOCK:
        present = set(torch.serialization.get_safe_globals())
        with torch.serialization.safe_globals([g for g in _MMENGINE_GLOBALS
                                               if g not in present]):
            yield


def checkpoint_problem(path: str) -> Optional[str]:
    """What is wrong with the bytes of checkpoint file ``path`` (None: nothing seen), from its
    size, its zip directory (declared sizes bounded: :mod:`.zip_limits`) and the CRC of every
    record; nothing is unpickled."""
    size = os.path.getsize(path)
    if size == 0:
        return 'the file is empty (0 bytes): an interrupted save?'
    with open(path, 'rb') as f:
        head = f.read(8)
    if path.endswith('.safetensors') or head.startswith(b'\x80'):  # a legacy torch.save pickle
        return None
    if not head.startswith(b'PK'):
        return (f'not a torch checkpoint (it starts with {head!r}): give a .pth written by '
                'torch.save or an MMEngine run')
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        return (f'truncated: the end of the zip archive is missing ({size} bytes; {err}): an '
                'interrupted save or copy? Use an intact checkpoint')
    with archive:
        inflating = inflation_problem(archive)
        if inflating:
            return inflating
        try:
            damaged = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            damaged = f'? ({err})'
    return (f'damaged: record {damaged} fails its check; use an intact checkpoint'
            if damaged else None)


def _load_error(path: str, err: Exception) -> CheckpointReadError:
    """One line for what ``torch.load`` refused: a file that asks for more than data is
    refused, anything else is damaged."""
    reason = unpickling_reason(err)
    if not re.search(r'GLOBAL|reduce|Can only|refusing', reason):
        return CheckpointReadError(f'cannot read checkpoint {path}: damaged ({reason})')
    if re.search(r'lightning|omegaconf|strhub', reason):
        return CheckpointReadError(
            f'refusing {path}: it looks like an official CLIP4STR (Lightning) checkpoint; '
            f'convert it first: tools/convert_clip4str_ckpt.py ({reason})')
    return CheckpointReadError(
        f'refusing {path}: {reason}; a checkpoint may hold only tensors and plain data, and '
        'nothing in it is run (docs/refusals.md)')


def _load_safetensors(filename: str) -> dict:
    """``{'state_dict', 'meta'}`` from a safetensors file (meta as JSON in its metadata), its
    sparse-row tables made dense (:mod:`.sparse_rows`)."""
    from safetensors import SafetensorError, safe_open

    from .sparse_rows import load_file_sparse_rows    # (it imports engine: not at the top)
    try:
        with safe_open(filename, framework='pt') as f:
            metadata = f.metadata() or {}
        state = load_file_sparse_rows(filename)
        return dict(state_dict=state, meta=json.loads(metadata.get('meta', '{}')))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointReadError(f'cannot read checkpoint {filename}: damaged safetensors '
                                  f'file ({err})') from None


def check_checkpoint_file(filename: str) -> str:
    """``filename`` (user expanded) if it exists and its bytes look intact (see
    :func:`checkpoint_problem`), else :class:`~.errors.CheckpointReadError`. The tools call it
    before building a Runner, so that a bad file is reported at once."""
    filename = os.path.expanduser(str(filename))
    if not os.path.isfile(filename):
        raise CheckpointNotFoundError(f'checkpoint not found: {filename}')
    problem = checkpoint_problem(filename)
    if problem:
        raise CheckpointReadError(f'cannot read checkpoint {filename}: {problem}')
    return filename


def load_checkpoint_file(filename: str, map_location=None, mmap: bool = False) -> Any:
    """Load a torch checkpoint (or safetensors file) as data only, tensors on ``map_location``
    (default CPU). Raises :class:`~.errors.CheckpointReadError` (one line) when it cannot.
    The configs it carries are read as data and re-written as literals, a config that is code
    refused (:func:`~.config_text.data_only_configs`).

    ``mmap``: ``state_dict`` as views of a private map of the file where it is uncompressed (see
    the module doc); only for a caller that drops them before the file could be rewritten.
    """
    filename = check_checkpoint_file(filename)
    mapped = False
    if filename.endswith('.safetensors'):
        checkpoint = _load_safetensors(filename)
    elif is_torchscript_archive(filename):
        raise CheckpointReadError(
            f'{filename} is a TorchScript archive (such as OpenAI CLIP weights), not a '
            'checkpoint: give it as the CLIP towers\' weights (model.backbone.pretrained and '
            'model.decoder.text_encoder.pretrained), or convert an official CLIP4STR file with '
            'tools/convert_clip4str_ckpt.py')
    else:
        mapped = mmap and mappable(filename)
        try:
            with _mmengine_globals():
                checkpoint = torch.load(filename, map_location=map_location or 'cpu',
                                        weights_only=True, mmap=mapped)
        except pickle.UnpicklingError as err:
            raise _load_error(filename, err) from None
        except MALFORMED_PICKLE_ERRORS as err:
            raise CheckpointReadError(f'cannot read checkpoint {filename}: damaged '
                                      f'({type(err).__name__}: {str(err)[:200]})') from None
    if not isinstance(checkpoint, Mapping):
        raise CheckpointReadError(f'{filename} holds a {type(checkpoint).__name__}, not a '
                                  'checkpoint (a dict of tensors, or one with a state_dict)')
    if mapped and 'state_dict' in checkpoint:
        checkpoint = {key: value if key == 'state_dict' else in_memory(value)
                      for key, value in checkpoint.items()}
    data_only_configs(checkpoint, filename)    # its config: data, re-written as literals
    remember_source(checkpoint, filename)
    return checkpoint


def load_from_weights_only(filename: str, map_location=None) -> Any:
    """MMEngine's loader for local files: :func:`load_checkpoint_file` with ``mmap=True``
    (MMEngine copies the weights into the model and drops the checkpoint; it logs the name
    after ``load_from_`` as the backend)."""
    return load_checkpoint_file(filename, map_location, mmap=True)


def use_weights_only_loader() -> None:
    """The switch, idempotent and process-wide: :func:`load_from_weights_only` becomes
    MMEngine's loader for local paths (``load_from``, ``resume``, inferencer weights,
    ``init_cfg``), for every model; http(s) URLs and model-zoo names are downloaded and read the
    same way (:mod:`.remote`); pavi / s3 / petrel keep MMEngine's loaders. Checkpoints loaded
    into a model of this plugin must fit it (:func:`~.shape_checks.check_checkpoint_fits`);
    other models load as MMEngine alone loads them."""
    from .remote import REMOTE_LOADERS
    for prefixes, loader in [('', load_from_weights_only), *REMOTE_LOADERS]:
        for prefix in (prefixes, ) if isinstance(prefixes, str) else prefixes:
            if CheckpointLoader._schemes.get(prefix) is not loader:
                CheckpointLoader.register_scheme(prefixes=prefix, loader=loader, force=True)
    install_fit_check()
