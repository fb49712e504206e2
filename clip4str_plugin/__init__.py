"""CLIP4STR and DPTR for MMOCR 1.x.

Importing the package registers every component in MMOCR's registries and changes nothing else:
with mmcv-lite (no compiled ops) ``import clip4str_mmcv_lite`` must come first, and MMEngine's
checkpoint loading is switched to weights-only only on request
(:func:`clip4str_plugin.weights.safe_loading.use_weights_only_loader`). In a config::

    custom_imports = dict(imports=['clip4str_mmcv_lite', 'clip4str_plugin',
                                   'clip4str_plugin.weights.safe_loading'],
                          allow_failed_imports=False)
"""
import importlib.util
import sys

if importlib.util.find_spec('mmcv') is None:   # neither distribution is named in setup.py
    raise ImportError('clip4str_plugin needs mmcv 2.x (full mmcv or mmcv-lite) beside MMOCR 1.x '
                      'and this environment has neither: `pip install "mmcv-lite>=2.0.0rc4,<2.2.0"`'
                      ' (then `import clip4str_mmcv_lite` first), or full mmcv; docs/install.md')
if 'mmcv._ext' not in sys.modules and importlib.util.find_spec('mmcv._ext') is None:
    raise ImportError('mmcv-lite has no compiled ops: `import clip4str_mmcv_lite` first, or list '
                      'it before clip4str_plugin in custom_imports')

from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401

__version__ = '0.1.0'
