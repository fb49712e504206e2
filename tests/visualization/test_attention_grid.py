"""The attention grid: a row per branch, a panel per decoded character titled with it, the map
stretched over the image where the attention was."""
import numpy as np

from clip4str_plugin.visualization.attention_maps import BranchMaps
from clip4str_plugin.visualization.attention_grid import (attention_mosaic, draw_attention_grid,
                                                          panel_origin)


def maps_at(cells, rows=8, cols=16):
    maps = np.zeros((len(cells), rows, cols), np.float32)
    for i, (r, c) in enumerate(cells):
        maps[i, r, c] = 1.0
    return maps


def test_one_panel_per_character_per_branch_titled_with_it():
    image = np.full((32, 128, 3), 128, np.uint8)
    branches = {'visual': BranchMaps('ab c', maps_at([(0, 0), (1, 1), (2, 2), (3, 3)]),
                                     'refinement'),
                'cross': BranchMaps('abc', maps_at([(0, 0), (1, 1), (2, 2)]), 'autoregressive')}
    fig = draw_attention_grid(image, branches)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ['visual\n(refinement)', 'a', 'b', '␣', 'c',
                     'cross\n(autoregressive)', 'a', 'b', 'c']
    mosaic = fig.axes[0].get_images()[0].get_array()
    shape = (64, 256)                                # enlarged to 64 rows
    assert mosaic.shape == (2 * (64 + 20 + 4), 110 + 4 * (256 + 4), 3)
    for row, count in enumerate((4, 3)):
        for col in range(4):
            y, x = panel_origin(row, col, shape)
            panel = mosaic[y:y + 64, x:x + 256]
            assert (panel == 255).all() == (col >= count)   # the shorter row's spare is blank


def test_the_map_lands_on_its_patch():
    image = np.zeros((32, 128, 3), np.uint8)
    mosaic = attention_mosaic(image, {'decoder': BranchMaps('xy', maps_at([(5, 12), (0, 3)]),
                                                            'one-shot')})
    for col, (r, c) in enumerate([(5, 12), (0, 3)]):
        y, x = panel_origin(0, col, (32, 128))
        panel = mosaic[y:y + 32, x:x + 128].astype(int)
        redness = panel[..., 0] - panel[..., 2]      # jet's maximum is red, its minimum blue
        row, column = np.unravel_index(redness.argmax(), redness.shape)
        assert (row // 4, column // 8) == (r, c)     # 4x8-pixel patches
        assert panel[..., 2].max() > 100             # elsewhere blue: the map is scaled


def test_an_empty_prediction_gets_the_image_alone():
    image = np.full((32, 128, 3), 7, np.uint8)
    fig = draw_attention_grid(image, {'decoder': BranchMaps('', np.zeros((0, 8, 16)),
                                                            'refinement')}, min_height=32)
    assert [t.get_text() for t in fig.axes[0].texts][1:] == ['(nothing decoded)']
    y, x = panel_origin(0, 0, (32, 128))
    assert (fig.axes[0].get_images()[0].get_array()[y:y + 32, x:x + 128] == 7).all()
