"""BranchTextRecogVisualizer: a text row per field the sample has; STRVisualizationHook: LMDB keys
named by their LMDB, files read and named as MMOCR does."""
import cv2
import numpy as np
from mmengine.structures import LabelData
from mmocr.structures import TextRecogDataSample

from clip4str_plugin.engine.hooks import STRVisualizationHook
from clip4str_plugin.visualization import BranchTextRecogVisualizer


def sample(**texts):
    data = TextRecogDataSample()
    for field, text in texts.items():
        data.set_field(LabelData(item=text), field)
    return data


def test_a_row_per_text_the_visual_branch_when_present(tmp_path):
    vis = BranchTextRecogVisualizer(name='rows_test')
    image = np.zeros((32, 100, 3), np.uint8)
    full = vis.add_datasample('a', image, sample(gt_text='ab', pred_text='ab',
                                                 visual_pred_text='ac'),
                              out_file=str(tmp_path / 'a.png'))
    assert full.shape == (4 * 64, 200, 3)
    assert cv2.imread(str(tmp_path / 'a.png')).shape == full.shape
    plain = vis.add_datasample('b', image, sample(gt_text='ab', pred_text='ab'),
                               out_file=str(tmp_path / 'b.png'))
    assert plain.shape == (3 * 64, 200, 3)
    no_gt = vis.add_datasample('c', image, sample(gt_text='ab', pred_text='ab'), draw_gt=False,
                               out_file=str(tmp_path / 'c.png'))
    assert np.array_equal(no_gt[64:], plain[128:])     # the same prediction row
    assert not np.array_equal(plain[64:128], plain[128:])   # gt and pred rows differ in colour


def test_hook_names_and_reads_files_as_mmocr(tmp_path):
    name = STRVisualizationHook.sample_name
    assert name('/d/IIIT5k/image-000000012') == 'IIIT5k/image-000000012'
    assert name('/d/crops/word_1.jpg') == 'word_1'
    image = np.zeros((10, 20, 3), np.uint8)
    image[..., 2] = 255                                # red in BGR
    cv2.imwrite(str(tmp_path / 'w.png'), image)
    BranchTextRecogVisualizer.get_instance('hook_test')
    rgb = STRVisualizationHook(enable=True).read_rgb(str(tmp_path / 'w.png'))
    assert rgb.shape == (10, 20, 3) and (rgb[..., 0] == 255).all() and (rgb[..., 2] == 0).all()
