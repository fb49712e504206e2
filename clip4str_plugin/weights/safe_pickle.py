"""A data-only unpickler for checkpoints: tensors and plain data, never code.

``pickle`` runs whatever a file names: ``os.system`` inside a ``__reduce__`` is enough. This reader
resolves only an allow-list of globals (tensor rebuilding, plain containers, numpy arrays and the
classes a caller adds). Every other global becomes an inert :class:`Opaque` stand-in that can be
built from its recorded state (``NEWOBJ``/``BUILD``: how objects and TorchScript modules pickle)
but refuses to be *called* (``REDUCE``: how exploits run code), raising :class:`UnsafePickleError`.
Nothing named in the file is ever imported.
"""
import collections
import io
import pickle
import zipfile
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked to call something that is not on the allow-list."""


class _OpaqueMeta(type):

    def __call__(cls, *args, **kwargs):
        if cls.inert_calls:     # a data class (e.g. an enum of a config library): record it
            return cls.__new__(cls, *args)
        raise UnsafePickleError(
            f'refusing to call {cls.__qualname__}{_short(args)} while unpickling: '
            'the file tries to run code that is not on the allow-list')

    def __repr__(cls):
        return f'<opaque global {cls.__qualname__}>'


class Opaque(metaclass=_OpaqueMeta):
    """An inert stand-in for an object of a class the file names but we never import.

    Attributes: ``args`` (the ``NEWOBJ`` arguments), ``state`` (what ``BUILD`` passed),
    ``items`` (dict entries set on it) and ``elements`` (list entries appended to it).
    """

    inert_calls = False

    def __new__(cls, *args):
        obj = object.__new__(cls)
        obj.args, obj.state, obj.items, obj.elements = args, None, {}, []
        return obj

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.items[key] = value

    def append(self, value):
        self.elements.append(value)

    def extend(self, values):
        self.elements.extend(values)

    def __repr__(self):
        return f'<opaque {type(self).__qualname__}>'


def _short(args) -> str:
    text = repr(args)
    return text if len(text) < 80 else text[:77] + '...'


def _opaque_class(module: str, name: str, inert_calls: bool = False) -> type:
    return _OpaqueMeta(name, (Opaque,), {'__qualname__': f'{module}.{name}',
                                         '__module__': module, 'inert_calls': inert_calls})


class _StorageType:
    """Stands for ``torch.<X>Storage``: only its dtype is needed to read the bytes."""

    def __init__(self, dtype: torch.dtype):
        self.dtype = dtype


_STORAGE_DTYPES = {
    'FloatStorage': torch.float32, 'DoubleStorage': torch.float64, 'HalfStorage': torch.float16,
    'BFloat16Storage': torch.bfloat16, 'LongStorage': torch.int64, 'IntStorage': torch.int32,
    'ShortStorage': torch.int16, 'CharStorage': torch.int8, 'ByteStorage': torch.uint8,
    'BoolStorage': torch.bool, 'ComplexFloatStorage': torch.complex64,
    'ComplexDoubleStorage': torch.complex128,
}


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None):
    return storage.as_strided(tuple(size), tuple(stride), storage_offset)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    return data


def _reconstructor(cls, base, state):
    """``copyreg._reconstructor``: object creation for classes without ``__reduce__``."""
    if isinstance(cls, type) and issubclass(cls, Opaque):
        return cls.__new__(cls)
    if cls in (dict, collections.OrderedDict, list, set, tuple, object):
        return cls.__new__(cls) if base is object else base.__new__(cls, state)
    raise UnsafePickleError(f'refusing copyreg._reconstructor for {cls!r}')


_SAFE_GLOBALS: Dict[Tuple[str, str], Any] = {
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('builtins', 'set'): set,
    ('builtins', 'frozenset'): frozenset,
    ('builtins', 'slice'): slice,
    ('builtins', 'complex'): complex,
    ('builtins', 'bytearray'): bytearray,
    ('copyreg', '_reconstructor'): _reconstructor,
    ('builtins', 'object'): object,
    ('builtins', 'dict'): dict,
    ('builtins', 'list'): list,
    ('builtins', 'tuple'): tuple,
    ('collections', 'defaultdict'): lambda *_: {},   # the default factory is never called
    ('torch', 'Size'): torch.Size,
    ('torch', 'device'): torch.device,
    ('_codecs', 'encode'): lambda text, encoding='latin1': text.encode(encoding),
    ('numpy.core.multiarray', '_reconstruct'): np.core.multiarray._reconstruct,
    ('numpy._core.multiarray', '_reconstruct'): np.core.multiarray._reconstruct,
    ('numpy.core.multiarray', 'scalar'): np.core.multiarray.scalar,
    ('numpy._core.multiarray', 'scalar'): np.core.multiarray.scalar,
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy', 'dtype'): np.dtype,
}
for _name, _dtype in _STORAGE_DTYPES.items():
    _SAFE_GLOBALS[('torch', _name)] = _StorageType(_dtype)
for _torch_dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64,
                     torch.int32, torch.uint8, torch.bool):
    _SAFE_GLOBALS[('torch', str(_torch_dtype).split('.')[-1])] = _torch_dtype


_PY2_MODULES = {'__builtin__': 'builtins', 'copy_reg': 'copyreg'}  # protocol-2 pickles
StorageReader = Callable[[str, torch.dtype, int], torch.Tensor]


class DataOnlyUnpickler(pickle.Unpickler):
    """Unpickle tensors and plain data; storages come from ``read_storage(key, dtype, numel)``.

    ``inert_modules``: modules (and their submodules) of *data* libraries whose classes may be
    "called" by the file, e.g. an enum or a config node of omegaconf inside Lightning
    hyper-parameters; such calls build inert :class:`Opaque` records, still without importing
    or running anything. Calls of anything else are refused.
    """

    def __init__(self, file, read_storage: Optional[StorageReader] = None,
                 extra_globals: Optional[Mapping[Tuple[str, str], Any]] = None,
                 inert_modules: Sequence[str] = ()):
        super().__init__(file)
        self._read_storage = read_storage
        self._globals = dict(_SAFE_GLOBALS)
        self._globals.update(extra_globals or {})
        self._inert = tuple(inert_modules)
        self._opaque: Dict[Tuple[str, str], type] = {}

    def find_class(self, module: str, name: str):
        key = (_PY2_MODULES.get(module, module), name)
        if key in self._globals:
            return self._globals[key]
        if self._inert and key == ('builtins', 'getattr'):
            return self._inert_getattr
        if key not in self._opaque:
            inert = any(key[0] == m or key[0].startswith(m + '.') for m in self._inert)
            self._opaque[key] = _opaque_class(*key, inert_calls=inert)
        return self._opaque[key]

    def _inert_getattr(self, obj, name):
        """``getattr`` on an inert record (e.g. a pickled bound method of a Lightning
        scheduler) gives another inert record; on anything else it is refused."""
        if getattr(obj, 'inert_calls', False):
            return _opaque_class('builtins', 'getattr', True)(obj, name)
        raise UnsafePickleError(f'refusing getattr({obj!r}, {name!r}) while unpickling')

    def persistent_load(self, pid):
        if self._read_storage is None or not (isinstance(pid, tuple) and pid[0] == 'storage'):
            raise pickle.UnpicklingError(f'unsupported persistent id {pid!r}')
        _, storage_type, key, _location, numel = pid
        dtype = storage_type.dtype if isinstance(storage_type, _StorageType) else torch.uint8
        return self._read_storage(str(key), dtype, int(numel))


def _zip_storage_reader(archive: zipfile.ZipFile, prefix: str) -> StorageReader:

    def read(key: str, dtype: torch.dtype, numel: int) -> torch.Tensor:
        name = f'{prefix}data/{key}'
        raw = bytearray(archive.getinfo(name).file_size)
        with archive.open(name) as f:
            f.readinto(raw)
        if numel == 0 or not raw:
            return torch.empty(0, dtype=dtype)
        flat = torch.frombuffer(raw, dtype=dtype)
        if flat.numel() < numel:
            raise pickle.UnpicklingError(f'storage {key} is truncated: {flat.numel()} of '
                                         f'{numel} elements')
        return flat

    return read


def load_zip_pickle(path: str, extra_globals=None, inert_modules: Sequence[str] = ()) -> Any:
    """Read ``data.pkl`` of a torch zip archive (``torch.save`` or TorchScript) as data only."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise pickle.UnpicklingError(
            f'{path} is not a readable torch archive (truncated, or not made by torch.save / '
            f'torch.jit.save): {err}') from None
    with archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith('data.pkl') and n.count('/') == 1]
        if not pkl:
            raise pickle.UnpicklingError(f'{path} has no data.pkl: not a torch archive')
        prefix = pkl[0][:-len('data.pkl')]
        byteorder = f'{prefix}byteorder'
        if byteorder in names and archive.read(byteorder).strip() != b'little':
            raise pickle.UnpicklingError(f'{path} stores big-endian tensors; not supported')
        unpickler = DataOnlyUnpickler(io.BytesIO(archive.read(pkl[0])),
                                      _zip_storage_reader(archive, prefix), extra_globals,
                                      inert_modules)
        return unpickler.load()


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
