"""Starting a decoder from a DPTR pre-training checkpoint: every tensor lands, or a clear error."""
import logging

import pytest
import torch
from mmengine.logging import MMLogger

from clip4str_plugin.weights.decoder_transfer import PretrainedDecoderError
from conftest import CONFIGS, build_model, load_config, make_samples


def pretrain_model():
    return build_model(load_config(CONFIGS / 'dptr' / 'dptr_pretrain_tiny.py').model)


def test_decoder_weight_transfer(tmp_path, caplog):
    source = pretrain_model()
    path = str(tmp_path / 'pretrain.pth')
    torch.save({'state_dict': source.state_dict(), 'meta': {}}, path)
    cfg = load_config(CONFIGS / 'dptr' / 'dptr_finetune_tiny.py')
    cfg.model.decoder.pretrained = dict(checkpoint=path, prefix='decoder.decoder.')
    model = build_model(cfg.model)
    logger = MMLogger.get_current_instance()
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    try:
        model.init_weights()
    finally:
        logger.removeHandler(handler)
    for key, value in source.decoder.decoder.state_dict().items():
        assert torch.equal(model.decoder.decoder.state_dict()[key], value)
    assert any('loaded' in m and 'not loaded: none' in m for m in messages), messages
    cfg.model.decoder.pretrained = dict(checkpoint=path, prefix='decoder.wrong.')
    with pytest.raises(PretrainedDecoderError, match='no decoder weight'):
        build_model(cfg.model).init_weights()
    samples = make_samples(['ab'])
    assert model.decoder.predict(torch.randn(1, 64, 128), None, samples)[0].pred_text
