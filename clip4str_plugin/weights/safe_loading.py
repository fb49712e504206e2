"""Importing this module is the switch to weights-only checkpoint loading in MMEngine.

List it in a config after the plugin, ``custom_imports=dict(imports=['clip4str_mmcv_lite',
'clip4str_plugin', 'clip4str_plugin.weights.safe_loading'])``, so that ``load_from``, ``resume``
and the inferencers' weights go through :func:`~.mmengine_loader.load_checkpoint_file`.
``import clip4str_plugin`` alone never imports it.
"""
from .mmengine_loader import use_weights_only_loader

use_weights_only_loader()
