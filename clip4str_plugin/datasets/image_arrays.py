"""Image arrays as the recognizers take them. MMOCR's inferencers hand the arrays a user gives
(``TextRecInferencer(...)(image)``) to the pipeline without looking at them, and a float, empty
or 4-D array then failed deep inside the resize or the data preprocessor. :class:`CheckImageArray`
follows the loading step of the shipped pipelines: grey and BGRA images become BGR, anything
else that is not an H x W x 3 uint8 image is a one-line :class:`~.errors.DataError`."""
import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmocr.registry import TRANSFORMS

from ..errors import DataError

_TO_BGR = {1: cv2.COLOR_GRAY2BGR, 4: cv2.COLOR_BGRA2BGR}


def as_bgr_uint8(img) -> np.ndarray:
    """``img`` as an H x W x 3 uint8 BGR array: H x W and H x W x 1 (grey) get three equal
    channels, H x W x 4 (BGRA, as ``cv2.IMREAD_UNCHANGED`` reads a PNG) loses its alpha. A float
    array is refused, not rescaled: whether it holds 0-1 or 0-255 is not known."""
    if not isinstance(img, np.ndarray):
        raise DataError(f'an image must be a numpy array (or a file path), not a '
                        f'{type(img).__name__}')
    if img.dtype != np.uint8:
        raise DataError(f'image array of dtype {img.dtype}: give uint8 pixels (0-255, BGR as '
                        'cv2.imread reads them); for floats in [0, 1]: '
                        '(img * 255).round().astype(np.uint8)')
    if img.ndim not in (2, 3):
        raise DataError(f'image array of shape {img.shape}: give one image, H x W x 3 (BGR) or '
                        'H x W (grey)')
    if img.size == 0:
        raise DataError(f'image array of shape {img.shape} is empty')
    channels = 1 if img.ndim == 2 else img.shape[2]
    if channels == 3:
        return img
    if channels not in _TO_BGR:
        raise DataError(f'image array of shape {img.shape} has {channels} channels: give 3 '
                        '(BGR), 1 (grey) or 4 (BGRA)')
    return cv2.cvtColor(np.ascontiguousarray(img), _TO_BGR[channels])


@TRANSFORMS.register_module()
class CheckImageArray(BaseTransform):
    """``results['img']`` through :func:`as_bgr_uint8` (its height and width are unchanged)."""

    def transform(self, results: dict) -> dict:
        results['img'] = as_bgr_uint8(results['img'])
        return results
