"""Word crops of a real photograph: the printed page that scikit-image ships as sample data
(``skimage.data.page()``: a 384x191 grey photo of a book page under uneven light, slightly
bent), cut at word boxes found by adaptive thresholding and checked and labelled by eye.

A real-text check for models trained on rendered words (the main job's ``test_photo`` set,
``tools/main_job.py``); it is never trained or tuned on. The photo is read from the installed
scikit-image (it comes with MMOCR); nothing is downloaded.
"""
from typing import List, Tuple

import numpy as np

#: (x, y, width, height, label) of each word of the page, in reading order; labels as printed
#: (the 36-character protocol drops case and punctuation). Left out: '>>>' (nothing left under
#: the protocol), a ruled line and a word cut by the photo's edge.
PAGE_WORDS: Tuple[Tuple[int, int, int, int, str], ...] = (
    (5, 12, 139, 22, 'Region-based'), (149, 13, 145, 22, 'segmentation'),
    (4, 48, 22, 13, 'Let'), (31, 51, 18, 11, 'us'), (54, 49, 30, 14, 'first'),
    (89, 50, 71, 14, 'determine'), (166, 50, 58, 14, 'markers'), (229, 50, 17, 14, 'of'),
    (250, 51, 27, 13, 'the'), (282, 51, 37, 13, 'coins'), (323, 50, 27, 14, 'and'),
    (355, 49, 23, 13, 'the'),
    (4, 65, 80, 17, 'background.'), (87, 68, 42, 13, 'These'), (132, 68, 58, 14, 'markers'),
    (191, 71, 25, 11, 'are'), (219, 69, 42, 16, 'pixels'), (262, 69, 32, 13, 'that'),
    (296, 71, 22, 11, 'we'), (319, 70, 25, 11, 'can'), (347, 66, 31, 14, 'label'),
    (4, 84, 100, 17, 'unambiguously'), (109, 88, 18, 11, 'as'), (131, 86, 44, 14, 'either'),
    (180, 87, 45, 16, 'object'), (230, 90, 18, 11, 'or'), (253, 86, 84, 17, 'background.'),
    (343, 85, 35, 13, 'Here,'),
    (4, 99, 23, 13, 'the'), (30, 102, 55, 13, 'markers'), (87, 106, 24, 10, 'are'),
    (114, 103, 41, 15, 'found'), (158, 105, 17, 13, 'at'), (178, 104, 26, 14, 'the'),
    (206, 105, 29, 14, 'two'), (237, 106, 60, 13, 'extreme'), (300, 104, 36, 16, 'parts'),
    (338, 102, 16, 13, 'of'), (355, 101, 24, 13, 'the'),
    (5, 115, 64, 18, 'histogram'), (71, 120, 16, 13, 'of'), (88, 123, 32, 14, 'grey'),
    (122, 122, 50, 14, 'values:'),
    (40, 172, 48, 11, 'markers'), (104, 176, 138, 15, 'np.zeros_like(coins)'),
)


def page_word_crops(margin: int = 2) -> List[Tuple[np.ndarray, str]]:
    """The words of :data:`PAGE_WORDS` as RGB ``uint8`` (h, w, 3) crops with ``margin`` pixels
    of the page around each box (clipped at the photo's edges), and their labels."""
    import skimage.data
    page = skimage.data.page()
    crops = []
    for x, y, w, h, label in PAGE_WORDS:
        crop = page[max(y - margin, 0):y + h + margin, max(x - margin, 0):x + w + margin]
        crops.append((np.repeat(crop[..., None], 3, axis=2), label))
    return crops
