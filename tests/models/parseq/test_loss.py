"""PLMModuleLoss targets: [B] label [E] [P].., and bad labels refused."""
import pytest
import torch

from clip4str_plugin.models.parseq.loss import PLMModuleLoss
from conftest import DICT_94, make_samples


def loss():
    return PLMModuleLoss(dict(type='PARSeqDictionary', dict_file=DICT_94), max_seq_len=25)


def test_targets_pad_to_the_longest_label():
    targets = loss().get_targets(make_samples(['ab', 'Z']))
    assert targets.tolist() == [[95, 11, 12, 0], [95, 62, 0, 96]]


@pytest.mark.parametrize('label', ['', 'x' * 26])
def test_empty_or_overlong_label_is_refused(label):
    with pytest.raises(ValueError, match='characters; training needs 1..25'):
        loss().get_targets(make_samples([label]))


def test_cross_weight():
    module = PLMModuleLoss(dict(type='PARSeqDictionary', dict_file=DICT_94),
                           cross_weight=0.5)
    logits = torch.randn(2, 3, 4, 95)
    targets = torch.randint(0, 95, (2, 3, 4))
    out = module(dict(visual=logits, cross=logits), targets)
    assert torch.allclose(out['loss_cross'], 0.5 * out['loss_visual'])
