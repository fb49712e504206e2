"""End-to-end text spotting: an MMOCR text detector in front of a recognizer of the plugin.

Importing the package registers ``E2EHmeanMetric``; it needs the plugin (and so, with mmcv-lite,
``clip4str_mmcv_lite`` imported first).
"""
from .crops import axis_aligned_crop, crop_text, rectified_crop
from .e2e_metric import E2EHmeanMetric
from .spotter import TextSpotter, draw, read_image
from .synth_scenes import CATEGORY, render_scenes

__all__ = ['axis_aligned_crop', 'crop_text', 'rectified_crop', 'E2EHmeanMetric', 'TextSpotter',
           'draw', 'read_image', 'CATEGORY', 'render_scenes']
