"""Decode images safely: the size is read from the header before any pixel is decoded, so that a
small file claiming a huge picture (a 40000 x 40000 PNG of one colour is 200 KB) is refused
instead of exhausting memory or aborting OpenCV.

Every reader of the package and its tools (LMDB datasets, ``tools/infer.py``,
``tools/make_lmdb.py``, ``tools/extract_orp_bank.py`` and ``ORPBankHook``, the spotting tools)
decodes through :func:`decode_image` / :func:`read_image_file` and skips, counted and named, what
they refuse. The limit is :data:`DEFAULT_MAX_PIXELS` (40 megapixels: a 7 700 x 5 200 photo; a
word crop is far smaller), or the environment variable ``CLIP4STR_MAX_IMAGE_PIXELS``, or a
reader's own argument (``max_image_pixels`` of ``STRLMDBDataset``). Images whose header PIL
cannot parse are handed to OpenCV, which keeps its own limit (``OPENCV_IO_MAX_IMAGE_PIXELS``).
"""
import io
import os
import re
import stat
import warnings
from typing import List, Optional, Tuple

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataError

#: The largest image decoded, in pixels (width x height), unless configured otherwise.
DEFAULT_MAX_PIXELS = 40_000_000
#: The environment variable that overrides :data:`DEFAULT_MAX_PIXELS`.
MAX_PIXELS_ENV = 'CLIP4STR_MAX_IMAGE_PIXELS'


class ImageReadError(DataError):
    """An image that is not decoded: unreadable, not an image, or over the pixel limit; the
    message is one phrase (``'not a decodable image'``, ``'40000 x 40000 pixels ...'``)."""


def max_pixels(limit: Optional[int] = None) -> int:
    """``limit`` if given, else ``$CLIP4STR_MAX_IMAGE_PIXELS``, else the default."""
    if limit is not None:
        value, source = limit, 'max_image_pixels'
    else:
        value, source = os.environ.get(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS), MAX_PIXELS_ENV
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = 0
    if value <= 0:
        raise DataError(f'{source} must be a positive number of pixels, not {value!r}')
    return value


class ImageTooLargeError(ImageReadError):
    """An image whose header claims more pixels than the limit (nothing was decoded)."""


def _too_large(claimed: str, limit: int) -> ImageTooLargeError:
    return ImageTooLargeError(f'{claimed} pixels, over the limit of {limit} ({MAX_PIXELS_ENV} or '
                          'max_image_pixels)')


def header_size(data: bytes, limit: int) -> Optional[Tuple[int, int]]:
    """``(width, height)`` read from the image header, nothing decoded; None when PIL does not
    know the format. Raises :class:`ImageReadError` for a size over PIL's bomb limit."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except Image.DecompressionBombError as err:
        claimed = re.search(r'\((\d+) pixels\)', str(err))
        raise _too_large(claimed.group(1) if claimed else 'over 10^8', limit) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def check_size(data: bytes, limit: Optional[int] = None) -> Optional[Tuple[int, int]]:
    """``(width, height)`` of encoded ``data`` from its header (None: a format PIL does not
    know); :class:`ImageReadError` when empty or over ``limit`` pixels (:func:`max_pixels`)."""
    if not data:
        raise ImageReadError('empty (0 bytes)')
    limit = max_pixels(limit)
    size = header_size(data, limit)
    if size is not None and size[0] * size[1] > limit:
        raise _too_large(f'{size[0]} x {size[1]}', limit)
    return size


def decode_image(data: bytes, limit: Optional[int] = None,
                 flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """The image of encoded ``data`` (BGR with the default ``flags``), decoded by OpenCV only
    when its header claims at most ``limit`` pixels (:func:`check_size`). Raises
    :class:`ImageReadError` saying why not."""
    check_size(data, limit)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as err:
        raise ImageReadError(f'not decodable ({str(err).strip().splitlines()[-1]})') from None
    if image is None or not image.size:
        raise ImageReadError('not a decodable image')
    return image


def is_regular_file(path: str) -> bool:
    """True for a regular file (symbolic links followed); False for a FIFO, a device, a socket
    or a folder, which reading could block on or misread."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def read_file(path: str) -> bytes:
    """The bytes of ``path``, which must be a regular file (:class:`ImageReadError` if not)."""
    if not is_regular_file(path):
        raise ImageReadError('not a regular file' if os.path.exists(path) else 'not found')
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as err:
        raise ImageReadError(f'cannot read ({err.strerror or err})') from None


def read_image_file(path: str, limit: Optional[int] = None,
                    flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """:func:`decode_image` of the regular file ``path``."""
    return decode_image(read_file(path), limit, flags)


def read_pil_image(path: str, limit: Optional[int] = None) -> Image.Image:
    """The regular file ``path`` decoded by PIL (loaded), when its header claims at most
    ``limit`` pixels; :class:`ImageReadError` otherwise."""
    data = read_file(path)
    if check_size(data, limit) is None:
        raise ImageReadError('not an image PIL reads')
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise ImageReadError(f'not decodable ({err})') from None
    return image


def list_image_files(root: str, extensions: Tuple[str, ...]) -> List[str]:
    """Every regular file below ``root`` (recursively, sorted) whose name ends with one of
    ``extensions`` (lower case); FIFOs, devices and sockets with such names are left out."""
    return sorted(path for path in (os.path.join(folder, name)
                                    for folder, _, names in os.walk(root) for name in names
                                    if name.lower().endswith(extensions))
                  if is_regular_file(path))
