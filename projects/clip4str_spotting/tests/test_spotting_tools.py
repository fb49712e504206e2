"""The spotting tools with careless input: outputs that would collide or replace existing files,
unreadable / missing images and broken annotations in an evaluation (run in-process, as their
command lines)."""
import json
import runpy
import sys
from pathlib import Path

import cv2
import pytest
from mmengine.runner.checkpoint import CheckpointLoader

import clip4str_mmcv_lite  # noqa: F401  (mmcv-lite: the mmcv._ext stand-in, before the plugin)
from projects.clip4str_spotting.clip4str_spotting import render_scenes
from projects.clip4str_spotting.clip4str_spotting.annotations import load_spotting_annotations
from projects.clip4str_spotting.clip4str_spotting.paths import collect_images, output_names

PROJECT = Path(__file__).resolve().parents[1]
ROOT = PROJECT.parents[1]
MODELS = ['--det', str(PROJECT / 'configs' / 'dbnet_resnet18_fpnc_synth-scenes.py'),
          '--rec', str(ROOT / 'configs' / 'clip4str' / 'clip4str-tiny.py'), '--device', 'cpu']


def run_tool(name, *args, monkeypatch):
    """Run tools/<name> of the project as a command; its exit code or message (0 on success)."""
    monkeypatch.setattr(sys, 'argv', [name, *map(str, args)])
    # the tools switch MMEngine's checkpoint loader: keep the switch inside this test
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    try:
        runpy.run_path(str(PROJECT / 'tools' / name), run_name='__main__')
    except SystemExit as done:
        return done.code or 0
    return 0


@pytest.fixture(scope='module')
def scene():
    image, instances = next(render_scenes('test', 1, seed=0, size=(160, 160), max_words=2))
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR), instances


def test_output_names_never_collide(tmp_path):
    files = ['in/good.jpg', 'in/good.png', 'in/sub/good.jpg']
    assert output_names([str(tmp_path / f) for f in files]) == \
        ['good.jpg', 'good.png', 'sub/good.jpg']
    assert output_names([str(tmp_path / 'a' / 'x.jpg'), str(tmp_path / 'b' / 'x.jpg')]) == \
        ['a/x.jpg', 'b/x.jpg']
    for name in ['good.jpg', 'sub/good.jpg', 'spots/vis/good.jpg.jpg']:
        (tmp_path / 'in' / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / 'in' / name).write_bytes(b'')
    # a file named twice (directly and in its folder) is one input; outputs are not inputs
    found = collect_images([str(tmp_path / 'in'), str(tmp_path / 'in' / 'good.jpg')],
                           exclude=str(tmp_path / 'in' / 'spots'))
    assert found == [str(tmp_path / 'in' / 'good.jpg'), str(tmp_path / 'in' / 'sub' / 'good.jpg')]


def test_spot_names_outputs_uniquely_and_keeps_existing(scene, tmp_path, monkeypatch, capsys):
    images = tmp_path / 'images'
    (images / 'sub').mkdir(parents=True)
    for name in ['good.jpg', 'good.png', 'sub/good.jpg']:
        cv2.imwrite(str(images / name), scene[0])
    out = tmp_path / 'spots'
    out.mkdir()
    (out / 'good.png.json').write_text('{"mine": 1}')
    # naming is what is tested here: no polygon passes the score threshold, so no recognition
    args = [images, *MODELS, '--out-dir', out, '--vis', '--det-score-thr', '1.01']
    # an existing output: refused before any model is loaded, nothing changed
    assert run_tool('spot.py', *args, monkeypatch=monkeypatch) == \
        f'error: 1 of the 6 outputs in {out} already exist (e.g. {out}/good.png.json); pass ' \
        '--overwrite to replace them, or write elsewhere'
    assert json.loads((out / 'good.png.json').read_text()) == {'mine': 1}
    assert run_tool('spot.py', *args, '--overwrite', monkeypatch=monkeypatch) == 0
    assert 'spotted 3 of 3 images -> 3 JSON files in' in capsys.readouterr().out
    written = sorted(str(p.relative_to(out)) for p in out.rglob('*') if p.is_file())
    assert written == ['good.jpg.json', 'good.png.json', 'sub/good.jpg.json',
                       'vis/good.jpg.jpg', 'vis/good.png.jpg', 'vis/sub/good.jpg.jpg']
    for name in ['good.jpg', 'good.png', 'sub/good.jpg']:
        result = json.loads((out / f'{name}.json').read_text())
        assert result['image'] == str(images / name) and result['texts'] == []
    # one image alone is named after its file too
    assert run_tool('spot.py', images / 'good.png', *MODELS, '--out-dir', out,
                    monkeypatch=monkeypatch) == \
        f'error: {out}/good.png.json already exists; pass --overwrite to replace it, or write ' \
        'elsewhere'


def test_test_spotting_skips_names_and_counts_bad_samples(scene, tmp_path, monkeypatch,
                                                          capsys):
    image, instances = scene
    cv2.imwrite(str(tmp_path / 'ok.jpg'), image)
    (tmp_path / 'broken.jpg').write_bytes(b'\xff\xd8 truncated')
    cv2.imwrite(str(tmp_path / 'bad_poly.jpg'), image)
    data_list = [
        dict(img_path='ok.jpg', instances=instances),
        dict(img_path='missing.jpg', instances=instances),
        dict(img_path='broken.jpg', instances=instances),
        dict(img_path='bad_poly.jpg', instances=[dict(polygon=[1, 2, 3], text='x')]),
    ]
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(dict(metainfo={}, data_list=data_list)))
    out = tmp_path / 'scores.json'
    assert run_tool('test_spotting.py', ann, *MODELS, '--out', out, monkeypatch=monkeypatch) == 0
    printed = capsys.readouterr().out
    assert f'{ann}: 1 of 4 images evaluated, 3 skipped' in printed
    assert 'skipped: bad_poly.jpg: instance 0: polygon has 3 values (needs an even number, ' \
        'at least 6)' in printed
    assert f'skipped: missing.jpg: image not found in {tmp_path}' in printed
    assert 'skipped: broken.jpg: cannot read' in printed
    assert '| end_to_end |' in printed
    saved = json.loads(out.read_text())
    assert [p['img_path'] for p in saved['predictions']] == ['ok.jpg']
    assert len(saved['skipped']) == 3
    assert run_tool('test_spotting.py', ann, *MODELS, '--out', out, monkeypatch=monkeypatch) == \
        f'error: {out} already exists; pass --overwrite to replace it, or write elsewhere'
    assert run_tool('test_spotting.py', ann, *MODELS, '--out', ann, '--overwrite',
                    monkeypatch=monkeypatch) == \
        f'error: {ann} is also the input {ann}; write the output elsewhere'


def test_annotation_file_errors(tmp_path):
    with pytest.raises(ValueError, match='annotation file not found: .*nope.json'):
        load_spotting_annotations(str(tmp_path / 'nope.json'))
    (tmp_path / 'bad.json').write_text('{"data_list": [')
    with pytest.raises(ValueError, match='bad.json is not a JSON file'):
        load_spotting_annotations(str(tmp_path / 'bad.json'))
    (tmp_path / 'other.json').write_text('{"images": []}')
    with pytest.raises(ValueError, match="other.json has no 'data_list' list"):
        load_spotting_annotations(str(tmp_path / 'other.json'))
    (tmp_path / 'mixed.json').write_text(json.dumps(dict(data_list=[
        dict(img_path='a.jpg', instances=[dict(polygon=[0, 0, 9, 0, 9, 9], text='ab')]),
        dict(instances=[]),
        dict(img_path='c.jpg', instances=[dict(polygon=[0, 0, 'x', 0, 9, 9])]),
        dict(img_path='d.jpg', instances=[dict(polygon=[0, 0, 9, 0, 9, float('nan')])])])))
    entries, skipped = load_spotting_annotations(str(tmp_path / 'mixed.json'))
    assert entries == [dict(img_path='a.jpg', polygons=[[0, 0, 9, 0, 9, 9]], texts=['ab'],
                            ignored=[False])]
    assert skipped[0] == 'data_list[1]: no img_path'
    assert skipped[1].startswith("c.jpg: instance 0: polygon [0, 0, 'x', 0, 9, 9] is not a list")
    assert skipped[2] == 'd.jpg: instance 0: polygon has non-finite values'


def test_make_synth_scenes_refuses_existing_scenes(tmp_path, monkeypatch):
    out = tmp_path / 'scenes'
    args = [out, '--split', 'test', '--size', '96', '96', '--max-words', '1']
    assert run_tool('make_synth_scenes.py', *args, '--num', '3', monkeypatch=monkeypatch) == 0
    assert sorted(p.name for p in (out / 'test').iterdir()) == \
        ['000000.jpg', '000001.jpg', '000002.jpg']
    assert run_tool('make_synth_scenes.py', *args, '--num', '1', monkeypatch=monkeypatch) == \
        f'error: 4 of the 4 test outputs in {out} already exist (e.g. ' \
        f'{out}/textspotting_test.json); ' \
        'pass --overwrite to replace them, or write elsewhere'
    assert run_tool('make_synth_scenes.py', *args, '--num', '1', '--overwrite',
                    monkeypatch=monkeypatch) == 0
    assert [p.name for p in (out / 'test').iterdir()] == ['000000.jpg']     # no stale scenes
    ann = json.loads((out / 'textspotting_test.json').read_text())
    assert len(ann['data_list']) == 1


def test_ignore_flags_are_booleans_or_0_1_and_nothing_else(tmp_path):
    polygon = [0, 0, 9, 0, 9, 9]
    flags = [True, False, 1, 0, 'false', 2, None]
    (tmp_path / 'flags.json').write_text(json.dumps(dict(data_list=[
        dict(img_path=f'{i}.jpg', instances=[dict(polygon=polygon, text='a', ignore=flag)])
        for i, flag in enumerate(flags)])))
    entries, skipped = load_spotting_annotations(str(tmp_path / 'flags.json'))
    assert [entry['ignored'] for entry in entries] == [[True], [False], [True], [False]]
    assert skipped == [
        "4.jpg: instance 0: ignore is 'false', not true/false (a JSON boolean, or 0/1)",
        '5.jpg: instance 0: ignore is 2, not true/false (a JSON boolean, or 0/1)',
        '6.jpg: instance 0: ignore is None, not true/false (a JSON boolean, or 0/1)']


def test_oversized_and_extreme_images_are_skipped_by_both_tools(scene, tmp_path, monkeypatch,
                                                                 capsys):
    import numpy as np

    from tests.hostile_images import claimed_png, fifo
    image, instances = scene
    folder = tmp_path / 'images'
    folder.mkdir()
    cv2.imwrite(str(folder / 'ok.jpg'), image)
    (folder / 'huge.png').write_bytes(claimed_png(40000, 40000))
    cv2.imwrite(str(folder / 'long.png'), np.full((32, 100000, 3), 200, np.uint8))
    fifo(folder / 'pipe.png')                  # listed, it would block the tool
    data_list = [dict(img_path=name, instances=instances)
                 for name in ('ok.jpg', 'huge.png', 'long.png')]
    ann = folder / 'ann.json'
    ann.write_text(json.dumps(dict(metainfo={}, data_list=data_list)))
    assert run_tool('test_spotting.py', ann, *MODELS, monkeypatch=monkeypatch) == 0
    printed = capsys.readouterr().out
    assert f'{ann}: 1 of 3 images evaluated, 2 skipped' in printed
    assert 'huge.png as an image: 1600000000 pixels, over the limit of 40000000' in printed
    assert 'skipped: long.png: the detector cannot take a 100000 x 32 image' in printed
    out = tmp_path / 'spots'
    assert run_tool('spot.py', folder, *MODELS, '--out-dir', out, '--det-score-thr', '1.01',
                    monkeypatch=monkeypatch) == 1
    printed = capsys.readouterr()
    assert 'spotted 1 of 3 images -> 1 JSON files' in printed.out
    assert 'long.png: the detector cannot take a 100000 x 32 image' in printed.err
