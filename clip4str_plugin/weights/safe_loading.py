"""Importing this module is the switch to safe checkpoint loading in MMEngine.

List it in a config after the plugin, ``custom_imports=dict(imports=['clip4str_mmcv_lite',
'clip4str_plugin', 'clip4str_plugin.weights.safe_loading'])``, so that ``load_from``, ``resume``,
``init_cfg`` and the inferencers' weights (local files, URLs, model-zoo names) are read
weights-only by :func:`~.mmengine_loader.load_checkpoint_file` (for every model in the process)
and must fit a model of this plugin (:func:`~.shape_checks.check_checkpoint_fits`; other models,
an MMOCR detector, load as without the plugin). ``import clip4str_plugin`` alone never imports it.
"""
from .mmengine_loader import use_weights_only_loader

use_weights_only_loader()
