"""End-to-end text spotting: an MMOCR text detector in front of a recognizer."""
from .crops import axis_aligned_crop, crop_text, rectified_crop
from .spotter import TextSpotter, read_image

__all__ = ['axis_aligned_crop', 'crop_text', 'rectified_crop', 'TextSpotter', 'read_image']
