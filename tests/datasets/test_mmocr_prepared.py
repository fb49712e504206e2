"""MMOCR's dataset-preparer output (OCRDataset JSON) drives a recipe: training with the label
rules on raw labels, then evaluation on the eight benchmark files, through the MMEngine Runner."""
import json

import cv2
import pytest
from mmengine.config import Config

from clip4str_plugin.datasets.transforms import STRLabelRules
from clip4str_plugin.synth.word_renderer import WordRenderer
from conftest import CONFIGS

RECIPE = CONFIGS / 'clip4str' / 'clip4str-b16_16e_mmocr-real.py'
TRAIN_SETS = ('icdar2013', 'icdar2015', 'iiit5k', 'svt', 'svtp', 'totaltext')
TEST_FILES = {'IIIT5K': ('iiit5k', 'textrecog_test.json'), 'SVT': ('svt', 'textrecog_test.json'),
              'IC13_857': ('icdar2013', 'textrecog_test_857.json'),
              'IC13_1015': ('icdar2013', 'textrecog_test.json'),
              'IC15_1811': ('icdar2015', 'textrecog_test_1811.json'),
              'IC15_2077': ('icdar2015', 'textrecog_test.json'),
              'SVTP': ('svtp', 'textrecog_test.json'), 'CUTE80': ('cute80', 'textrecog_test.json')}
TOO_LONG = 'a' * 26


def write_split(root, folder, ann_file, split, labels, renderer):
    """Crops and an annotation file as the preparer writes them (paths relative to the set)."""
    data_list = []
    for i, label in enumerate(labels):
        img_path = f'textrecog_imgs/{split}/{ann_file[:-5]}_{i}.png'
        (root / folder / img_path).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / folder / img_path), renderer.render(label[:12] or 'x')[:, :, ::-1])
        data_list.append(dict(img_path=img_path, height=32, width=100,
                              instances=[dict(text=label)]))
    (root / folder / ann_file).write_text(json.dumps(dict(
        metainfo=dict(dataset_type='TextRecogDataset', task_name='textrecog'),
        data_list=data_list)))


@pytest.fixture
def prepared(monkeypatch, tmp_path_factory):
    """The preparer's layout under a short root (not the test's long tmp_path): MMEngine
    formats the whole config (yapf) several times per run, and long paths in its ~40 dataset
    entries make that slow. Kept until the session ends, as every tmp_path (runners of later
    tests may still hold MMEngine objects that point into it)."""
    root, renderer = tmp_path_factory.mktemp('p') / 'data', WordRenderer(seed=0)
    bad = dict(svt=TOO_LONG, svtp='\u2014')   # too long; nothing left after the rules
    for folder in TRAIN_SETS:   # raw labels: spaces, accents
        labels = ['Hello', bad.get(folder, 'caf\u00e9 42')]
        write_split(root, folder, 'textrecog_train.json', 'train', labels, renderer)
    for name, (folder, ann_file) in TEST_FILES.items():
        write_split(root, folder, ann_file, 'test', [name[:4], 'Text!'], renderer)
    monkeypatch.setenv('MMOCR_DATA_ROOT', str(root))
    return root


def test_label_rules_transform():
    rules = STRLabelRules(charset='94', max_label_length=5)
    out = rules(dict(img_path='a.png', instances=[dict(text=' Caf\u00e9 ')]))
    assert out['instances'][0]['text'] == 'Cafe'
    assert rules(dict(img_path='b.png', instances=[dict(text='abcdef')])) is None
    assert rules(dict(img_path='c.png', instances=[dict(text='\u2014')])) is None
    assert rules(dict(img_path='d.png', instances=[])) is None
    assert dict(rules.rules.dropped) == {'too_long': 1, 'empty': 1, 'no_label': 1}
    assert STRLabelRules(charset='36')(dict(instances=[dict(text='AB-1')]))['instances'] == [
        dict(text='ab1')]


def test_recipe_trains_and_evaluates_on_prepared_data(prepared):
    from mmengine.runner import Runner
    cfg = Config.fromfile(str(RECIPE))
    assert cfg.train_dataloader.dataset.datasets[0].data_root == f'{prepared}/icdar2013'
    # the tiny geometry of the official fixture (224 x 224 input), random weights
    cfg.model.backbone.update(embed_dim=64, width=128, layers=2, patch_size=32, pretrained=None)
    cfg.model.decoder.text_encoder.update(embed_dim=64, width=128, layers=2, pretrained=None)
    cfg.model.decoder.decoder.update(embed_dim=64)
    cfg.model.decoder.refine_iters = 0
    cfg.train_dataloader.update(batch_size=4, num_workers=0, persistent_workers=False)
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        loader.update(batch_size=8, num_workers=0, persistent_workers=False)
    cfg.train_cfg.update(max_epochs=1, val_interval=2)   # evaluated once, by runner.test()
    cfg.max_epochs = 1
    cfg.param_scheduler[0].total_steps = 1
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(prepared.parent / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    label_rules = runner.train_dataloader.dataset.datasets[0].pipeline.transforms[1]
    assert isinstance(label_rules, STRLabelRules)   # one pipeline, shared by the sets
    # each bad crop dropped at least once (the redraws may hit it again), nothing else
    assert set(label_rules.rules.dropped) == {'too_long', 'empty'}
    assert runner.iter == 3          # 12 training crops, batch 4
    metrics = runner.test()
    for name in TEST_FILES:          # 'Text!' scores as 'text'; every sample counted
        assert metrics[f'{name}/str/num_samples'] == 2
        assert 0 <= metrics[f'{name}/str/accuracy'] <= 1
    assert 'average/str/accuracy' in metrics
    assert (prepared.parent / 'work' / 'epoch_1.pth').is_file()
