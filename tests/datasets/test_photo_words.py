"""photo_words: the word crops of scikit-image's page photograph: every box holds ink on its
page, the labels are the printed words, and boxes of neighbouring words barely touch."""
import numpy as np

from clip4str_plugin.datasets.photo_words import PAGE_WORDS, page_word_crops


def test_every_box_holds_a_word_of_the_page():
    crops = page_word_crops(margin=2)
    assert len(crops) == len(PAGE_WORDS) == 45
    assert [label for _, label in crops][:4] == ['Region-based', 'segmentation', 'Let', 'us']
    for (x, y, w, h, label), (crop, same) in zip(PAGE_WORDS, crops):
        assert same == label and crop.dtype == np.uint8 and crop.shape[2] == 3
        top, left = min(y, 2), min(x, 2)        # the margin, clipped at the photo's edges
        assert crop.shape[:2] == (min(y + h + 2, 191) - y + top, min(x + w + 2, 384) - x + left)
        inside = crop[top:top + h, left:left + w, 0].astype(np.float32)
        # ink: the darkest pixels of the word are well below its paper
        assert np.percentile(inside, 5) < np.median(inside) - 40, label


def test_boxes_hold_one_word_each():
    """Boxes of neighbouring lines touch at most by a descender (a few rows)."""
    for i, (x, y, w, h, _) in enumerate(PAGE_WORDS):
        for u, v, s, t, _ in PAGE_WORDS[i + 1:]:
            across = max(0, min(x + w, u + s) - max(x, u))
            down = max(0, min(y + h, v + t) - max(y, v))
            assert across == 0 or down <= 3, ((x, y, w, h), (u, v, s, t))
