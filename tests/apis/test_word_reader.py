"""WordReader: per crop the texts and scores of a plain test_step, and an attention picture where
the decoder reads image patches (none, with the reason, where it does not)."""
import cv2
import numpy as np
import pytest
import torch

from clip4str_plugin.apis import WordReader, build_recognizer
from conftest import ROOT, TINY_CONFIG, build_model, load_config

SAMPLES = sorted((ROOT / 'assets' / 'samples').glob('word*.png'))


@pytest.fixture(scope='module')
def crops():
    return [cv2.imread(str(path)) for path in SAMPLES[:2]]


def saved_model(tmp_path, config_text):
    config = tmp_path / 'model.py'
    config.write_text(config_text)
    torch.manual_seed(0)
    model = build_model(load_config(config).model)
    torch.save(dict(state_dict=model.state_dict(), meta={}), str(tmp_path / 'model.pth'))
    return str(config), str(tmp_path / 'model.pth')


def test_texts_scores_and_pictures_are_the_test_steps(tmp_path, crops):
    config, weights = saved_model(
        tmp_path, f"_base_ = ['{TINY_CONFIG}']\nmodel = dict(decoder=dict(max_seq_len=5))\n")
    reader = WordReader(build_recognizer(weights, config, 'cpu'))
    words = reader.read(crops)
    assert reader.no_maps is None and len(words) == 2 and reader.read([]) == []
    inferencer = reader.inferencer
    batch = inferencer.collate_fn([inferencer.pipeline(c) for c in crops])
    with torch.no_grad():
        samples = inferencer.model.test_step(batch)
    for word, sample in zip(words, samples):
        assert word.text == sample.pred_text.item and word.text
        assert word.char_scores == pytest.approx(sample.pred_text.score, abs=1e-6)
        assert word.score == pytest.approx(np.mean(sample.pred_text.score), abs=1e-6)
        assert word.visual_text == sample.visual_pred_text.item
        assert word.visual_score == pytest.approx(np.mean(sample.visual_pred_text.score),
                                                  abs=1e-6)
        # two rows (visual, cross) of panels, wider than tall, RGB
        assert word.attention.dtype == np.uint8 and word.attention.shape[2] == 3
        assert word.attention.shape[1] > word.attention.shape[0] > 2 * 64


def test_a_decoder_behind_an_encoder_reads_without_maps(tmp_path, crops):
    config, weights = saved_model(
        tmp_path, f"_base_ = ['{TINY_CONFIG}']\n"
        "model = dict(encoder=dict(type='FeatureMergeUnit', embed_dim=128), "
        'decoder=dict(max_seq_len=5))\n')
    reader = WordReader(build_recognizer(weights, config, 'cpu'))
    assert reader.no_maps.startswith('the decoder reads FeatureMergeUnit tokens')
    words = reader.read(crops[:1])
    assert words[0].attention is None and isinstance(words[0].text, str)
