"""A data-only unpickler for the files torch's weights-only reader cannot take: the authors'
Lightning ``.ckpt`` files (hyper-parameters are dict subclasses and enums of libraries we never
import) and OpenAI's TorchScript CLIP archives. MMEngine checkpoints go through torch's own
reader (:mod:`.mmengine_loader`).

``pickle`` runs whatever a file names (``os.system`` in a ``__reduce__`` is enough) and writes into
whatever the file reaches (``BUILD`` sets attributes, ``SETITEM`` entries). This reader guards the
opcodes of the pure-Python :class:`pickle._Unpickler`:

* a global resolves, per load, to an entry of a small table (tensor rebuilding, containers, numpy
  values; each stand-in a fresh copy) or to an inert :class:`Opaque` class made for this load;
  nothing named in the file is imported;
* only what this load handed out is called (``REDUCE``, ``NEWOBJ``, ``INST``/``OBJ``); an opaque
  class refuses (:class:`UnsafePickleError`) unless its module is declared inert data, when the
  call only records its arguments;
* writes (``BUILD``, ``SETITEM(S)``, ``APPEND(S)``, ``ADDITEMS``) land only on record types
  (containers, numpy arrays and dtypes, this load's opaque records) and no table entry is one:
  a file fills in only what it built, so it cannot change how another file loads.
"""
import collections
import pickle
from typing import Any, Callable, Dict, Sequence, Set, Tuple

import numpy as np
import torch


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked to call or change something that is not its own data."""


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
    """An inert record of an object of a class the file names but we never import.

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

    def __repr__(self):
        return f'<opaque {type(self).__qualname__}>'


def _short(args) -> str:
    text = repr(args)
    return text if len(text) < 80 else text[:77] + '...'


class _StorageType:
    """Stands for ``torch.<X>Storage``: only its dtype is needed to read the bytes."""

    __slots__ = ('name', 'dtype')

    def __init__(self, name: str, dtype: torch.dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f'<stand-in torch.{self.name}>'


_STORAGE_DTYPES = {
    'FloatStorage': torch.float32, 'DoubleStorage': torch.float64, 'HalfStorage': torch.float16,
    'BFloat16Storage': torch.bfloat16, 'LongStorage': torch.int64, 'IntStorage': torch.int32,
    'ShortStorage': torch.int16, 'CharStorage': torch.int8, 'ByteStorage': torch.uint8,
    'BoolStorage': torch.bool, 'ComplexFloatStorage': torch.complex64,
    'ComplexDoubleStorage': torch.complex128,
}


def _rebuild_tensor(storage, storage_offset, size, stride, *_):
    if not isinstance(storage, torch.Tensor):
        raise UnsafePickleError(f'refusing to rebuild a tensor from {type(storage).__name__}')
    return storage.as_strided(tuple(size), tuple(stride), storage_offset)


def numpy_dtype_copy(spec, align=False, copy=True) -> np.dtype:
    """``numpy.dtype`` that always copies (numpy shares one object per builtin dtype), so that
    ``BUILD`` fills in a dtype of the file's own."""
    return np.dtype(spec, align, True)


def _table() -> Dict[Tuple[str, str], Any]:
    """The globals a file may name, made afresh for each load (stand-ins included)."""
    table = {('torch._utils', name): _rebuild_tensor
             for name in ('_rebuild_tensor_v2', '_rebuild_tensor')}
    table.update({('torch._utils', name): lambda data, *_: data
                  for name in ('_rebuild_parameter', '_rebuild_parameter_with_state')})
    table.update({('builtins', t.__name__): t for t in (set, frozenset, slice, complex, bytearray,
                                                        dict, list, tuple, object)})
    table.update({
        ('collections', 'OrderedDict'): collections.OrderedDict,
        ('collections', 'defaultdict'): lambda *_: {},   # the default factory is never called
        ('torch', 'Size'): torch.Size,
        ('torch', 'device'): torch.device,
        ('_codecs', 'encode'): lambda text, encoding='latin1': text.encode(encoding),
        ('numpy', 'ndarray'): np.ndarray,
        ('numpy', 'dtype'): numpy_dtype_copy,
    })
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        table[(module, '_reconstruct')] = np.core.multiarray._reconstruct
        table[(module, 'scalar')] = np.core.multiarray.scalar
    for name, dtype in _STORAGE_DTYPES.items():
        table[('torch', name)] = _StorageType(name, dtype)
        table[('torch', str(dtype).split('.')[-1])] = dtype
    return table


#: Types of the objects a file may write into: only the file itself makes them.
_RECORD_TYPES = (dict, collections.OrderedDict, list, set, bytearray, np.ndarray)
_PY2_MODULES = {'__builtin__': 'builtins', 'copy_reg': 'copyreg'}  # protocol-2 pickles
StorageReader = Callable[[str, torch.dtype, int], torch.Tensor]


class DataOnlyUnpickler(pickle._Unpickler):
    """Unpickle tensors and plain data; storages come from ``read_storage(key, dtype, numel)``.

    ``inert_modules``: modules (and their submodules) of *data* libraries whose classes may be
    "called" by the file, e.g. an enum or a config node of omegaconf inside Lightning
    hyper-parameters; such calls build inert :class:`Opaque` records, still without importing
    or running anything. Calls of anything else are refused.
    """

    dispatch = dict(pickle._Unpickler.dispatch)     # the guarded opcodes: below the class

    def __init__(self, file, read_storage: StorageReader, inert_modules: Sequence[str] = ()):
        super().__init__(file)
        self._read_storage = read_storage
        self._inert = tuple(inert_modules)
        self._globals = _table()
        self._globals[('copyreg', '_reconstructor')] = self._reconstructor
        self._globals[('builtins', 'getattr')] = self._inert_getattr
        self._issued: Dict[int, Any] = {}       # id -> what find_class handed out
        self._classes: Set[type] = set()        # this load's opaque classes

    def find_class(self, module: str, name: str):
        key = (_PY2_MODULES.get(module, module), name)
        if key not in self._globals:
            inert = any(key[0] == m or key[0].startswith(m + '.') for m in self._inert)
            self._globals[key] = self._opaque(*key, inert)
        value = self._globals[key]
        self._issued[id(value)] = value
        return value

    def _opaque(self, module: str, name: str, inert: bool) -> type:
        cls = _OpaqueMeta(name, (Opaque,), {'__qualname__': f'{module}.{name}',
                                            '__module__': module, 'inert_calls': inert})
        self._classes.add(cls)
        return cls

    def is_record(self, obj) -> bool:
        """Whether the file may fill ``obj`` in: data of a record type (only loads make them)."""
        return (type(obj) in _RECORD_TYPES or isinstance(obj, np.dtype)
                or type(obj) in self._classes)

    def _call(self, func, args, new: bool = False):
        if self._issued.get(id(func)) is not func or new and not isinstance(func, type):
            raise UnsafePickleError(f'refusing to call {func!r} while unpickling: only the '
                                    'globals on the allow-list may be called')
        return func.__new__(func, *args) if new else func(*args)

    def _reconstructor(self, cls, base, state):
        """``copyreg._reconstructor``: object creation of protocols 0 and 1."""
        if cls in self._classes or (cls in (dict, collections.OrderedDict, list)
                                    and base is object):
            return cls.__new__(cls)
        raise UnsafePickleError(f'refusing copyreg._reconstructor for {cls!r}')

    def _inert_getattr(self, obj, name):
        """``getattr`` on an inert record (e.g. a pickled bound method of a Lightning
        scheduler) gives another inert record; on anything else it is refused."""
        cls = obj if isinstance(obj, type) else type(obj)
        if cls in self._classes and cls.inert_calls:
            return self._opaque('builtins', 'getattr', True)(obj, name)
        raise UnsafePickleError(f'refusing getattr({obj!r}, {name!r}) while unpickling')

    def _target(self, opcode: str):
        """The object on top of the stack, which ``opcode`` is about to change."""
        obj = self.stack[-1]
        if not self.is_record(obj):
            raise UnsafePickleError(f'refusing {opcode} on {obj!r} while unpickling: a file may '
                                    'only fill in the objects it creates')
        return obj

    def _load_reduce(self):
        args = self.stack.pop()
        self.stack[-1] = self._call(self.stack[-1], args)

    def _load_newobj(self):
        args = self.stack.pop()
        self.stack[-1] = self._call(self.stack[-1], args, new=True)

    def _load_newobj_ex(self):
        raise UnsafePickleError('refusing NEWOBJ_EX (protocol 4 objects): torch never writes it')

    def _instantiate(self, klass, args):                    # INST / OBJ (protocols 0, 1)
        self.append(self._call(klass, tuple(args)))

    def _load_build(self):
        state = self.stack.pop()
        inst = self._target('BUILD')
        if isinstance(inst, (Opaque, np.ndarray, np.dtype)):
            inst.__setstate__(state)
        elif isinstance(state, dict) and hasattr(inst, '__dict__'):  # a state dict's _metadata
            inst.__dict__.update(state)
        else:
            raise UnsafePickleError(f'refusing BUILD of {type(inst).__name__} with {_short(state)}')

    def _load_setitem(self):
        value, key = self.stack.pop(), self.stack.pop()
        self._set([key, value], 'SETITEM')

    def _load_setitems(self):
        self._set(self.pop_mark(), 'SETITEMS')

    def _set(self, items, opcode):
        target = self._target(opcode)
        entries = target.items if isinstance(target, Opaque) else target
        for i in range(0, len(items), 2):
            entries[items[i]] = items[i + 1]

    def _load_append(self):
        self._extend([self.stack.pop()], 'APPEND')

    def _load_appends(self):
        self._extend(self.pop_mark(), 'APPENDS')

    def _load_additems(self):
        self._extend(self.pop_mark(), 'ADDITEMS')

    def _extend(self, items, opcode):
        target = self._target(opcode)
        if not isinstance(target, set if opcode == 'ADDITEMS' else (list, Opaque)):
            raise UnsafePickleError(f'refusing {opcode} on {type(target).__name__}')
        if isinstance(target, Opaque):
            target.elements.extend(items)
        else:
            (target.update if isinstance(target, set) else target.extend)(items)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == 'storage'):
            raise pickle.UnpicklingError(f'unsupported persistent id {_short(pid)}')
        _, storage_type, key, _location, numel = pid
        dtype = storage_type.dtype if isinstance(storage_type, _StorageType) else torch.uint8
        return self._read_storage(str(key), dtype, int(numel))


for _opcode, _method in ((pickle.REDUCE, '_load_reduce'), (pickle.NEWOBJ, '_load_newobj'),
                         (pickle.NEWOBJ_EX, '_load_newobj_ex'), (pickle.BUILD, '_load_build'),
                         (pickle.SETITEM, '_load_setitem'), (pickle.SETITEMS, '_load_setitems'),
                         (pickle.APPEND, '_load_append'), (pickle.APPENDS, '_load_appends'),
                         (pickle.ADDITEMS, '_load_additems')):
    DataOnlyUnpickler.dispatch[_opcode[0]] = getattr(DataOnlyUnpickler, _method)
