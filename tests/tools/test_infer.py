"""A converted checkpoint alone rebuilds the model (MMOCR's TextRecInferencer with model=None)
on any machine, and tools/infer.py reads folders of crops into JSON and CSV."""
import copy
import csv
import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

import clip4str_plugin.models.parseq.dictionary as dictionary_module
from clip4str_plugin.weights.loading import checkpoint_config, load_checkpoint_file
from clip4str_plugin.weights.safe_loading import use_weights_only_loader
from conftest import ROOT, fixture_model
from test_convert_clip4str_ckpt import to_official_layout, write_lightning_ckpt


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """(the model, its converted checkpoint written by tools/convert_clip4str_ckpt.py)."""
    tmp = tmp_path_factory.mktemp('ckpt')
    torch.manual_seed(5)
    model = fixture_model()
    src, dst = tmp / 'clip4str_tiny.ckpt', tmp / 'tiny.pth'
    write_lightning_ckpt(src, to_official_layout(model.state_dict()))
    argv = sys.argv
    sys.argv = ['convert_clip4str_ckpt.py', str(src), str(dst)]
    try:
        load_tool('convert_clip4str_ckpt').main()
    finally:
        sys.argv = argv
    return model, dst


@pytest.fixture(scope='module')
def inferencer(converted):
    """MMOCR's TextRecInferencer built from nothing but the converted checkpoint."""
    from mmocr.apis import TextRecInferencer
    return TextRecInferencer(model=None, weights=str(converted[1]), device='cpu')


def crops(n, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((30 + 4 * i, 90 + 10 * i, 3)) * 255).astype(np.uint8) for i in range(n)]


def test_checkpoint_names_the_dictionary_not_a_path(converted):
    _, ckpt = converted
    cfg_text = load_checkpoint_file(str(ckpt))['meta']['cfg']
    assert str(ROOT) not in cfg_text and '/dicts/' not in cfg_text
    cfg = Config.fromstring(cfg_text, '.py')
    assert cfg.model.decoder.dictionary.dict_file == 'charset_94.txt'


def test_text_rec_inferencer_from_the_checkpoint_alone(converted, inferencer):
    model, _ = converted
    images = crops(3)
    preds = inferencer(images, batch_size=3)['predictions']
    rebuilt = inferencer.model
    for key, value in model.state_dict().items():   # the checkpoint's weights, not random ones
        assert torch.equal(rebuilt.state_dict()[key], value), key
    batch = inferencer.collate_fn([inferencer.pipeline(img) for img in images])
    model = copy.deepcopy(model)     # normalising as the converted checkpoint records (read.py)
    assert rebuilt.data_preprocessor.std.flatten().tolist() == [127.5] * 3
    model.data_preprocessor.mean.fill_(127.5)
    model.data_preprocessor.std.fill_(127.5)
    with torch.no_grad():
        direct = model.eval().test_step(batch)
    assert [p['text'] for p in preds] == [d.pred_text.item for d in direct]


def test_the_converted_checkpoint_through_the_safe_path(converted, inferencer, monkeypatch):
    """With the weights-only loader, MMOCR's model=None reads the config text the loader
    re-wrote as literals, and checkpoint_config (tools/infer.py's path) gives it as data: the
    same config as MMEngine running the converter's text, the same words as before."""
    from mmengine.runner.checkpoint import CheckpointLoader
    from mmocr.apis import TextRecInferencer
    _, ckpt = converted
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    use_weights_only_loader()
    written = torch.load(str(ckpt), weights_only=True)['meta']['cfg']     # the converter's text
    assert load_checkpoint_file(str(ckpt))['meta']['cfg'] != written
    config = checkpoint_config(str(ckpt))
    assert config.to_dict() == Config.fromstring(written, '.py').to_dict()
    image = crops(1, seed=3)[0]
    rec = TextRecInferencer(model=None, weights=str(ckpt), device='cpu')
    assert rec(image)['predictions'] == inferencer(image)['predictions']


def test_an_old_checkpoint_with_a_foreign_dict_path_falls_back(converted, tmp_path,
                                                               monkeypatch):
    """A checkpoint from another machine: its absolute dict_file (the package's dicts folder
    there) does not exist here."""
    from mmocr.apis import TextRecInferencer
    model, ckpt = converted
    checkpoint = load_checkpoint_file(str(ckpt))
    cfg_text = checkpoint['meta']['cfg'].replace(
        "'charset_94.txt'", "'/home/someone/clip4str/clip4str_plugin/dicts/charset_94.txt'")
    assert '/home/someone/' in cfg_text
    checkpoint['meta']['cfg'] = cfg_text
    old = tmp_path / 'old.pth'
    torch.save(checkpoint, str(old))
    notes = []
    monkeypatch.setattr('clip4str_plugin.text.charsets.print_log',
                        lambda msg, **kw: notes.append(msg))
    inferencer = TextRecInferencer(model=None, weights=str(old), device='cpu')
    assert inferencer.model.decoder.dictionary.chars == dictionary_module.PARSeqDictionary(
        'charset_94.txt').chars
    assert notes and notes[0].startswith('dict_file /home/someone/clip4str/clip4str_plugin/dicts/'
                                         'charset_94.txt does not exist; using the shipped '
                                         'charset_94.txt (')
    assert isinstance(inferencer(crops(1))['predictions'][0]['text'], str)


def test_infer_tool_folders_batches_skips_and_never_overwrites(converted, inferencer, tmp_path,
                                                              capsys):
    _, ckpt = converted
    images = crops(5, seed=1)
    (tmp_path / 'crops' / 'sub').mkdir(parents=True)
    paths = [tmp_path / 'crops' / 'a.png', tmp_path / 'crops' / 'sub' / 'b.jpg',
             tmp_path / 'crops' / 'sub' / 'c.png', tmp_path / 'crops' / 'd.bmp',
             tmp_path / 'single.png']
    for path, img in zip(paths, images):
        cv2.imwrite(str(path), img)
    (tmp_path / 'crops' / 'broken.png').write_bytes(b'not an image')
    (tmp_path / 'crops' / 'notes.txt').write_text('ignored: not an image extension')
    (tmp_path / 'crops' / 'sub' / 'same_name.png').write_bytes(b'')
    infer = load_tool('infer')
    argv = [str(ckpt), str(tmp_path / 'crops'), str(tmp_path / 'single.png'),
            '--out-dir', str(tmp_path / 'out'), '--batch-size', '2', '--device', 'cpu']
    infer.main(argv)
    out = capsys.readouterr()
    assert '5 images read, 2 skipped (unreadable)' in out.out
    assert 'skipped ' + str(tmp_path / 'crops' / 'broken.png') + ': not a decodable image' \
        in out.err
    runs = sorted((tmp_path / 'out').iterdir())
    assert len(runs) == 1
    result = json.loads((runs[0] / 'predictions.json').read_text())
    got = {row['path']: row for row in result['predictions']}
    assert sorted(got) == sorted(map(str, paths))
    assert sorted(s['path'] for s in result['skipped']) == sorted(
        str(tmp_path / 'crops' / n) for n in ('broken.png', 'sub/same_name.png'))
    with open(runs[0] / 'predictions.csv', newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    assert [r['path'] for r in rows] == [r['path'] for r in result['predictions']]
    # the same images through MMOCR's inferencer, in the same batches of two
    order = [row['path'] for row in result['predictions']]
    decoded = [cv2.imread(p) for p in order]
    texts = []
    for start in range(0, len(decoded), 2):
        chunk = decoded[start:start + 2]
        texts += [p['text'] for p in inferencer(chunk, batch_size=len(chunk))['predictions']]
    assert [got[p]['text'] for p in order] == texts
    assert [r['text'] for r in rows] == texts

    # a second run gets a folder of its own, even within the same second
    second = infer.new_run_dir(str(tmp_path / 'out'))
    assert Path(second) not in runs and sorted((tmp_path / 'out').iterdir())[0] == runs[0]
    assert infer.new_run_dir(str(tmp_path / 'out')) != second


def test_infer_tool_skips_oversized_images_and_never_opens_a_fifo(converted, tmp_path, capsys):
    from hostile_images import claimed_png, fifo
    (tmp_path / 'crops').mkdir()
    cv2.imwrite(str(tmp_path / 'crops' / 'a.png'), crops(1)[0])
    (tmp_path / 'crops' / 'huge.png').write_bytes(claimed_png(40000, 40000))
    fifo(tmp_path / 'crops' / 'pipe.png')                # listed, it would block the tool
    load_tool('infer').main([str(converted[1]), str(tmp_path / 'crops'), '--out-dir',
                             str(tmp_path / 'out'), '--device', 'cpu'])
    out = capsys.readouterr()
    assert '1 images read, 1 skipped (unreadable)' in out.out
    assert (f'skipped {tmp_path / "crops" / "huge.png"}: 1600000000 pixels, over the limit of '
            '40000000') in out.err


def test_infer_tool_clear_errors(converted, tmp_path):
    infer = load_tool('infer')
    _, ckpt = converted
    cv2.imwrite(str(tmp_path / 'w.png'), crops(1)[0])
    with pytest.raises(SystemExit, match=f'^error: input not found: {tmp_path}/nope$'):
        infer.main([str(ckpt), str(tmp_path / 'nope')])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit, match='^error: no image files .* in .*empty$'):
        infer.main([str(ckpt), str(tmp_path / 'empty')])
    with pytest.raises(SystemExit, match='^error: .*not found: .*absent.pth'):
        infer.main([str(tmp_path / 'absent.pth'), str(tmp_path / 'w.png')])
    bare = tmp_path / 'bare.pth'   # weights without a config
    torch.save({'state_dict': load_checkpoint_file(str(ckpt))['state_dict']}, str(bare))
    with pytest.raises(SystemExit, match=r"^error: .*bare.pth carries no config \(meta\['cfg'\]\): "
                       'give the config it was trained with$'):
        infer.main([str(bare), str(tmp_path / 'w.png'), '--out-dir', str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()


def test_infer_tool_takes_mmocrs_flags(converted, tmp_path, capsys):
    """``--rec CONFIG --rec-weights CKPT`` (every positional an input), ``--print-result`` (a
    JSON line per image), ``--save_vis`` (each crop with its text drawn) and ``--save_pred``
    (each prediction as MMOCR's inferencer dumps it), as MMOCR's tool; ``--show`` refused."""
    _, ckpt = converted
    infer = load_tool('infer')
    args = infer.parse_args(['crops/', 'w.png', '--rec', 'c.py', '--rec-weights', 'k.pth'])
    assert (args.checkpoint, args.inputs, args.config) == ('k.pth', ['crops/', 'w.png'], 'c.py')
    args = infer.parse_args(['k.pth', 'crops/', '--config', 'c.py'])     # the positional form
    assert (args.checkpoint, args.inputs, args.config) == ('k.pth', ['crops/'], 'c.py')
    with pytest.raises(SystemExit, match=r'^error: give the checkpoint, then the images \(or '
                       r'--rec-weights CHECKPOINT\)$'):
        infer.parse_args(['crops/'])
    with pytest.raises(SystemExit, match=r'^error: --show \(a window per crop\) is not offered: '
                       '--save-vis writes each crop with its text drawn into the run folder, '
                       'and tools/demo.py shows them in a browser$'):
        infer.parse_args(['k.pth', 'crops/', '--show'])
    for n, img in enumerate(crops(2, seed=4)):
        cv2.imwrite(str(tmp_path / f'w{n}.png'), img)
    infer.main([str(tmp_path / 'w0.png'), str(tmp_path / 'w1.png'), '--rec-weights', str(ckpt),
                '--out-dir', str(tmp_path / 'out'), '--print-result', '--save_vis',
                '--save_pred', '--device', 'cpu'])
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith('{')]
    run_dir, = (tmp_path / 'out').iterdir()
    written = json.loads((run_dir / 'predictions.json').read_text())['predictions']
    assert printed == written and len(printed) == 2
    drawn = sorted(p.name for p in (run_dir / 'vis').iterdir())
    assert drawn == ['00000_w0.png', '00001_w1.png']
    picture = cv2.imread(str(run_dir / 'vis' / drawn[1]))
    assert picture.shape[0] > picture.shape[1] * 34 / 100   # the 100x34 crop (resized), text below
    dumped = {p.name: json.loads(p.read_text()) for p in (run_dir / 'preds').iterdir()}
    assert dumped == {f'0000{n}_w{n}.json': dict(text=row['text'], scores=pytest.approx(
        row['score'], abs=1e-6)) for n, row in enumerate(written)}


def test_mmocr_model_names_reach_only_mmocrs_own_metafiles():
    """README: MMOCR looks model names up in its installed package's metafiles only, so the
    plugin's models are named by their config file (or checkpoint_config) instead."""
    from mmocr.apis import TextRecInferencer
    with pytest.raises(ValueError, match='^Cannot find model: clip4str_b16 in mmocr$'):
        TextRecInferencer(model='clip4str_b16', device='cpu')
