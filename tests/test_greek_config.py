"""configs/clip4str/clip4str-tiny_3k_synth-greek.py end to end on Greek words rendered in the
test: the
MMEngine Runner trains a few iterations and tests; every Greek test label is scored (none folded
away), and the cross branch's captions reach CLIP as Greek."""
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from clip4str_plugin.datasets.lmdb_io import write_lmdb
from clip4str_plugin.synth.word_renderer import render_samples
from clip4str_plugin.cli.launch import apply_cfg_options
from clip4str_plugin.models.clip.towers import tokenize
from conftest import CONFIGS

CONFIG = str(CONFIGS / 'clip4str' / 'clip4str-tiny_3k_synth-greek.py')


def test_greek_config_trains_and_scores_every_greek_word(tmp_path, monkeypatch):
    for split, num in (('train', 16), ('test', 6)):
        write_lmdb(str(tmp_path / 'greek' / split),
                   render_samples(split, num, 0, language='el', fonts='sans', max_len=8))
    monkeypatch.setenv('GREEK_DATA_ROOT', str(tmp_path / 'greek'))
    # yapf formatting of the config for logs and checkpoints would take most of the test's time
    monkeypatch.setattr(Config, 'pretty_text', property(lambda cfg: '# config elided (tests)'))
    cfg = Config.fromfile(CONFIG)
    apply_cfg_options(cfg, {'max_iters': 2, 'train_dataloader.batch_size': 8,
                            'default_hooks.logger.interval': 1}, CONFIG)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None     # test only: faster
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2, by_epoch=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    assert metrics['greek-test/str/num_samples'] == 6
    assert 0.0 <= metrics['greek-test/str-cased/accuracy'] <= 1.0
    assert 'greek-test/recog/word_acc_ignore_case' in metrics

    decoder = runner.model.decoder
    ids = torch.tensor([[decoder.dictionary.char2idx(c) for c in 'ΟΔΟΣ']])
    logits = torch.nn.functional.one_hot(ids, decoder.dictionary.num_classes - 2).float()
    assert decoder.captions(logits) == ['ΟΔΟΣ']       # Greek kept; CLIP lower-cases it
    caption = decoder.caption_ids(logits)[0]
    assert caption.tolist() == tokenize(['οδος'], 26)[0].tolist()
    assert int((caption > 0).sum()) == 2 + 2 * 4      # SOT, two byte tokens a letter, EOT
