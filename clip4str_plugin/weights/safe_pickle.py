"""Torch zip archives (``torch.save`` files, TorchScript archives) read as data only.

``data.pkl`` goes through :class:`~.unpickler.DataOnlyUnpickler` (nothing named in the file is
imported or called unless allow-listed; nothing shared is written to), the tensors' bytes come
from the archive's ``data/`` records. Used for the authors' Lightning checkpoints and OpenAI's
TorchScript CLIP files; MMEngine checkpoints go through torch's own weights-only reader
(:mod:`.mmengine_loader`).
"""
import io
import pickle
import zipfile
from typing import Any, Iterator, Mapping, Sequence, Tuple

import torch

from .errors import MALFORMED_PICKLE_ERRORS
from .unpickler import DataOnlyUnpickler, Opaque, StorageReader, UnsafePickleError
from .zip_limits import inflation_problem

__all__ = ['UnsafePickleError', 'load_zip_pickle', 'is_torchscript_archive', 'iter_tensors']


def _zip_storage_reader(archive: zipfile.ZipFile, prefix: str) -> StorageReader:

    def read(key: str, dtype: torch.dtype, numel: int) -> torch.Tensor:
        try:
            info = archive.getinfo(f'{prefix}data/{key}')
        except KeyError:
            raise pickle.UnpicklingError(f'storage {key} is missing from the archive') from None
        raw = bytearray(info.file_size)
        with archive.open(info) as f:
            f.readinto(raw)
        if numel == 0 or not raw:
            return torch.empty(0, dtype=dtype)
        flat = torch.frombuffer(raw, dtype=dtype)
        if flat.numel() < numel:
            raise pickle.UnpicklingError(f'storage {key} is truncated: {flat.numel()} of '
                                         f'{numel} elements')
        return flat

    return read


def load_zip_pickle(path: str, inert_modules: Sequence[str] = ()) -> Any:
    """Read ``data.pkl`` of a torch zip archive (``torch.save`` or TorchScript) as data only.

    Raises :class:`UnsafePickleError` for a file that tries to run or change code, and
    ``pickle.UnpicklingError`` naming ``path`` for one that is damaged or not a torch archive.
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise pickle.UnpicklingError(
            f'{path} is not a readable torch archive (truncated, or not made by torch.save / '
            f'torch.jit.save): {err}') from None
    with archive:
        inflating = inflation_problem(archive)
        if inflating:
            raise pickle.UnpicklingError(f'{path}: {inflating}')
        names = archive.namelist()
        pkl = [n for n in names if n.endswith('data.pkl') and n.count('/') == 1]
        if not pkl:
            raise pickle.UnpicklingError(f'{path} has no data.pkl: not a torch archive')
        prefix = pkl[0][:-len('data.pkl')]
        byteorder = f'{prefix}byteorder'
        if byteorder in names and archive.read(byteorder).strip() != b'little':
            raise pickle.UnpicklingError(f'{path} stores big-endian tensors; not supported')
        try:
            return DataOnlyUnpickler(io.BytesIO(archive.read(pkl[0])),
                                     _zip_storage_reader(archive, prefix), inert_modules).load()
        except pickle.UnpicklingError:
            raise
        except (zipfile.BadZipFile, *MALFORMED_PICKLE_ERRORS) as err:
            raise pickle.UnpicklingError(f'{path} is damaged ({type(err).__name__}: {err})'
                                         ) from None


def is_torchscript_archive(path: str) -> bool:
    """A TorchScript archive is a torch zip with a ``code/`` folder and ``constants.pkl``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any('/code/' in n for n in names) and any(n.endswith('constants.pkl') for n in names)


def iter_tensors(obj: Any, prefix: str = '') -> Iterator[Tuple[str, torch.Tensor]]:
    """Yield ``(dotted.name, tensor)`` for every tensor reachable through dicts and opaque
    objects, as a TorchScript module tree stores its parameters and buffers."""
    if isinstance(obj, torch.Tensor):
        yield prefix.rstrip('.'), obj
    elif isinstance(obj, Opaque):
        yield from iter_tensors(obj.state, prefix)
        yield from iter_tensors(obj.items, prefix)
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            if isinstance(key, str):
                yield from iter_tensors(value, f'{prefix}{key}.')
