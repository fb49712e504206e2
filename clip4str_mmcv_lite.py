"""An in-process stand-in for mmcv's compiled extension ``mmcv._ext``: import this module first.

mmcv-lite ships no compiled ops, yet ``mmcv.ops`` (imported by mmdet.models and so by mmocr.models)
looks every op up in ``mmcv._ext`` at import time. Importing this module runs :func:`install`,
which registers a module object under that name, only when the real extension is absent, and
never edits site-packages. Any op called through it raises :class:`NotImplementedError` naming
the op, except ``nms``, which torchvision provides.

It is a module of its own, so that the change is explicit: ``import clip4str_mmcv_lite`` before
``import clip4str_plugin``, or list it first in a config's ``custom_imports``.
"""
import importlib.machinery
import importlib.util
import sys
import types

STUB_NAME = 'mmcv._ext'
HOW_TO_GET_OPS = ('install full mmcv with compiled ops (recipe B of docs/install.md: build mmcv '
                  '2.0.1 from source against this torch) instead of mmcv-lite')


def _nms(bboxes, scores, iou_threshold, offset=0):
    if offset != 0:
        raise NotImplementedError(f'mmcv op nms with offset={offset} needs compiled mmcv: '
                                  + HOW_TO_GET_OPS)
    import torchvision
    return torchvision.ops.nms(bboxes, scores, float(iou_threshold))


def _missing_op(name):

    def op(*args, **kwargs):
        raise NotImplementedError(
            f'mmcv op {name!r} needs the compiled mmcv extension, which this environment lacks '
            f'(mmcv-lite): {HOW_TO_GET_OPS}')

    op.__name__ = name
    return op


def _module_getattr(name):
    if name.startswith('__'):
        raise AttributeError(name)
    return _missing_op(name)


def make_stub() -> types.ModuleType:
    """Return a module that answers every op name of ``mmcv._ext``."""
    module = types.ModuleType(STUB_NAME, __doc__)
    module.__spec__ = importlib.machinery.ModuleSpec(STUB_NAME, None)
    module.__file__ = __file__
    module.__clip4str_stub__ = True
    module.nms = _nms
    module.get_compiler_version = lambda: 'n/a (mmcv-lite: no compiled ops)'
    module.get_compiling_cuda_version = lambda: 'n/a'
    module.__getattr__ = _module_getattr
    return module


def compiled_ext_available() -> bool:
    """Whether a real ``mmcv._ext`` can be imported (full mmcv)."""
    if importlib.util.find_spec('mmcv') is None:
        return False
    try:
        return importlib.util.find_spec(STUB_NAME) is not None
    except (ImportError, ValueError):
        return False


def install() -> bool:
    """Put the stand-in in place unless a real extension exists; True when installed."""
    current = sys.modules.get(STUB_NAME)
    if current is not None:
        return bool(getattr(current, '__clip4str_stub__', False))
    if compiled_ext_available():
        return False
    sys.modules[STUB_NAME] = make_stub()
    return True


install()
