"""CLIP4STR and DPTR for MMOCR 1.x: ``custom_imports=dict(imports=['clip4str_plugin'])``.

Importing the package first puts an in-process stand-in for mmcv's compiled ops in place when only
mmcv-lite is installed (see :mod:`clip4str_plugin.utils.mmcv_ext_stub`), then registers every
component in MMOCR's registries.
"""
from .utils import mmcv_ext_stub

mmcv_ext_stub.install()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__version__ = '0.1.0'
