"""PARSeqRandAugment on real rendered images."""
import random

import pytest

import numpy as np
from mmcv.transforms import Compose
from PIL import Image

from clip4str_plugin.synth.word_renderer import WordRenderer
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
    img = Image.fromarray(np.full((32, 128, 3), 255, np.uint8))
    assert rotate(img).size != (128, 32)


def test_reference_maxima_and_levels():
    """Each op's arguments at magnitude 10 (the maxima) and 5 (the configs'), as the reference:
    its geometric maxima and own ops, timm's level maps for the rest."""
    random.seed(0)
    ops = {op.name: op for op in PARSeqRandAugment(magnitude=10).ops}
    for name, maximum in (('Rotate', 30.), ('ShearX', 0.9), ('ShearY', 0.2),
                          ('TranslateXRel', 0.10), ('TranslateYRel', 0.30)):
        assert {ops[name].args() for _ in range(40)} == {(maximum, ), (-maximum, )}, name
    assert ops['GaussianBlur'].args() == (4., ) and ops['PoissonNoise'].args() == (40., )
    ops = {op.name: op for op in PARSeqRandAugment(magnitude=5).ops}
    assert {ops['Rotate'].args() for _ in range(40)} == {(15., ), (-15., )}
    assert ops['PosterizeIncreasing'].args() == (2, )     # keep 4 - int(0.5 * 4) bits
    assert ops['SolarizeIncreasing'].args() == (128, )    # threshold 256 - int(0.5 * 256)
    assert ops['SolarizeAdd'].args() == (55, )            # int(0.5 * 110)
    for name in ('ColorIncreasing', 'ContrastIncreasing', 'BrightnessIncreasing'):
        assert {round(ops[name].args()[0], 6) for _ in range(40)} == {0.55, 1.45}, name
    for name in ('AutoContrast', 'Equalize', 'Invert'):
        assert ops[name].args() == ()


def test_blur_and_noise_are_capped_by_the_image_size():
    from PIL import ImageFilter

    from clip4str_plugin.datasets import transforms
    small = Image.fromarray(np.full((10, 30, 3), 200, np.uint8))
    ops = {op.name: op for op in PARSeqRandAugment(magnitude=10, prob=1.0).ops}
    blurred = ops['GaussianBlur'](small)   # radius min(4, max(1, 0.02 * 30)) = 1
    assert np.array_equal(np.asarray(blurred),
                          np.asarray(small.filter(ImageFilter.GaussianBlur(1))))
    assert transforms._size_capped(40., small, 0.2) == 6   # lambda min(40, 0.2 * 30)


def test_three_distinct_ops_per_image():
    aug = PARSeqRandAugment(num_ops=3)
    drawn = []
    for index, op in enumerate(aug.ops):   # the same list timm's RandAugment draws from
        aug.ops[index] = lambda img, name=op.name: drawn.append(name) or img
    np.random.seed(0)
    img = np.zeros((8, 16, 3), np.uint8)
    for _ in range(100):
        drawn.clear()
        aug.transform(dict(img=img))
        assert len(drawn) == 3 and len(set(drawn)) == 3


def test_label_rules_refuse_a_pipeline_that_drops_most_labels():
    from clip4str_plugin.datasets.transforms import JUDGE_AFTER, STRLabelRules
    greek = STRLabelRules(charset='charset_greek.txt', label_folding='nfc')
    assert greek(dict(instances=[dict(text='Ζεύς')]))['instances'][0]['text'] == 'Ζεύς'
    rules = STRLabelRules(charset='94')
    for i in range(JUDGE_AFTER - 1):     # two of three dropped: judged only after 100 samples
        label = 'word' if i % 3 == 0 else 'λέξη'
        assert (rules(dict(img_path=f'{i}.png', instances=[dict(text=label)])) is None) \
            == (i % 3 != 0)
    with pytest.raises(ValueError, match=r"^STRLabelRules: 33 of 100 samples kept \(empty 67\) "
                       r"from the first 100 samples of process \d+: e.g. 'λέξη' is empty under "
                       r"label_folding='ascii'"):
        rules(dict(img_path='last.png', instances=[dict(text='λέξη')]))
