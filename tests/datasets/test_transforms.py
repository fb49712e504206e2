"""PARSeqRandAugment on real rendered images."""
import random

import numpy as np
from mmcv.transforms import Compose

from clip4str_plugin.datasets.word_renderer import WordRenderer
from clip4str_plugin.datasets.transforms import PARSeqRandAugment
from test_str_lmdb_dataset import pipeline


def test_reference_op_set():
    aug = PARSeqRandAugment()
    names = [op.name for op in aug.ops]
    assert len(names) == 16 and 'SharpnessIncreasing' not in names
    assert {'GaussianBlur', 'PoissonNoise', 'Rotate', 'ShearX', 'TranslateYRel'} <= set(names)


def test_augmentation_pipeline_across_seeds():
    renderer = WordRenderer(seed=0)
    images = [renderer.render(word)[:, :, ::-1].copy() for word in ('Hello', 'x', 'WORLD-42')]
    steps = pipeline()
    steps.insert(1, dict(type='PARSeqRandAugment', num_ops=3, magnitude=5))
    transform = Compose(steps)
    changed = 0
    for seed in range(60):
        random.seed(seed)
        np.random.seed(seed)
        img = images[seed % len(images)]
        out = transform(dict(img=img.copy(), img_path=None, instances=[dict(text='t')]))
        assert tuple(out['inputs'].shape) == (3, 32, 128)
        changed += out['data_samples'].img_shape != img.shape[:2]
    assert changed > 0   # rotation with expand changes the size before the resize


def test_rotation_expands_instead_of_cropping():
    aug = PARSeqRandAugment()
    rotate = next(op for op in aug.ops if op.name == 'Rotate')
    rotate.prob = 1.0
    from PIL import Image
    img = Image.fromarray(np.full((32, 128, 3), 255, np.uint8))
    assert rotate(img).size != (128, 32)
