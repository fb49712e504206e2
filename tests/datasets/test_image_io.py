"""image_io: sizes read from the header before decoding, a pixel limit, regular files only."""
import cv2
import numpy as np
import pytest

from clip4str_plugin.errors import DataError
from clip4str_plugin.datasets.image_io import (ImageReadError, decode_image, list_image_files,
                                               max_pixels, read_image_file)
from hostile_images import claimed_png, fifo


def small_png(shape=(10, 20, 3)) -> bytes:
    return cv2.imencode('.png', np.full(shape, 7, np.uint8))[1].tobytes()


def test_small_images_decode():
    assert decode_image(small_png()).shape == (10, 20, 3)


@pytest.mark.parametrize('width,height,why', [
    (40000, 40000, '1600000000 pixels, over the limit of 40000000'),   # over PIL's own limit
    (5000, 10000, '5000 x 10000 pixels, over the limit of 40000000'),
    (8000, 8000, '8000 x 8000 pixels, over the limit')])
def test_huge_headers_are_refused_before_decoding(width, height, why):
    with pytest.raises(ImageReadError, match=why):
        decode_image(claimed_png(width, height))


def test_the_limit_comes_from_the_argument_or_the_environment(monkeypatch):
    with pytest.raises(ImageReadError, match='10 x 20 pixels|20 x 10 pixels'):
        decode_image(small_png(), limit=100)
    monkeypatch.setenv('CLIP4STR_MAX_IMAGE_PIXELS', '100')
    assert max_pixels() == 100
    with pytest.raises(ImageReadError, match='20 x 10 pixels, over the limit of 100'):
        decode_image(small_png())
    monkeypatch.setenv('CLIP4STR_MAX_IMAGE_PIXELS', 'lots')
    with pytest.raises(DataError, match="CLIP4STR_MAX_IMAGE_PIXELS must be a positive number"):
        max_pixels()


@pytest.mark.parametrize('data,why', [(b'', 'empty'), (b'text', 'not a decodable image')])
def test_non_images_say_why(data, why):
    with pytest.raises(ImageReadError, match=why):
        decode_image(data)


def test_only_regular_files_are_listed_and_read(tmp_path):
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'a.png').write_bytes(small_png())
    (tmp_path / 'notes.txt').write_text('x')
    pipe = fifo(tmp_path / 'pipe.png')
    assert list_image_files(str(tmp_path), ('.png', )) == [str(tmp_path / 'sub' / 'a.png')]
    with pytest.raises(ImageReadError, match='not a regular file'):
        read_image_file(str(pipe))
    with pytest.raises(ImageReadError, match='not found'):
        read_image_file(str(tmp_path / 'gone.png'))
    assert read_image_file(str(tmp_path / 'sub' / 'a.png')).shape == (10, 20, 3)
