"""The exported CLIP4STR on ONNX Runtime and OpenVINO decodes as the PyTorch model does: same
strings (and logits within 1e-4) on the official fixture and on a tiny random model whose
samples stop at different steps, in batches and alone; its int8 version reads nearly the same."""
import hashlib
import json
import os
import re
import shutil
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from clip4str_plugin.deploy import CLIP4STRRunner, DeployError, export_recognizer, read_manifest
from clip4str_plugin.deploy.quantize import quantize_folder, string_agreement
from clip4str_plugin.weights.official_checkpoint import official_to_plugin
from conftest import build_model, fixture_model, load_config, make_samples, tiny_model
from fixtures.make_official_tiny import load_official_tiny

BACKENDS = ('onnxruntime', 'openvino')
ATOL = 1e-4
PREPROCESSOR = dict(type='TextRecogDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3)


def needs(backend):
    pytest.importorskip(backend, reason=f'{backend} is not installed (the deploy extra: '
                                        f'pip install clip4str_plugin[{backend}])')


def staggered_tiny_model():
    """The tiny random model, its [E] logit rising with the position, so that samples end at
    different steps (a random model otherwise never emits [E] or emits it first)."""
    model = tiny_model()
    gen = torch.Generator().manual_seed(1)
    direction = torch.nn.functional.normalize(torch.randn(128, generator=gen), dim=0)
    with torch.no_grad():
        for net in (model.decoder.visual_decoder, model.decoder.cross_decoder):
            net.pos_queries[0] += torch.arange(net.max_length)[:, None] * 0.1 * direction
            net.head.weight[0] = direction
            net.head.bias[0] = -3.0
    return model


def tiny_images(batch=6):
    gen = torch.Generator().manual_seed(1)
    return torch.randn(batch, 3, 32, 128, generator=gen) * \
        torch.linspace(0.2, 2, batch)[:, None, None, None]


def ends(logits):
    return [row.index(0) if 0 in row else -1 for row in logits.argmax(-1).tolist()]


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    model = staggered_tiny_model()
    folder = tmp_path_factory.mktemp('tiny_onnx')
    checkpoint = tmp_path_factory.mktemp('tiny_weights') / 'weights.pth'
    torch.save(model.state_dict(), checkpoint)
    export_recognizer(model, str(folder), PREPROCESSOR, str(checkpoint))
    return SimpleNamespace(model=model, folder=str(folder), checkpoint=str(checkpoint),
                           runners={})


@pytest.fixture(scope='module')
def official(tmp_path_factory):
    weights, stages = load_official_tiny()
    model = fixture_model()
    state, _ = official_to_plugin(weights)
    model.load_state_dict(state)
    folder = tmp_path_factory.mktemp('official_onnx')
    export_recognizer(model.eval(), str(folder), PREPROCESSOR)
    return SimpleNamespace(model=model, folder=str(folder), stages=stages, runners={})


def runner(exported, backend):
    """One runner per exported folder and backend (opening the graphs takes seconds)."""
    needs(backend)
    if backend not in exported.runners:
        exported.runners[backend] = CLIP4STRRunner(exported.folder, backend, threads=2)
    return exported.runners[backend]


@torch.no_grad()
def assert_same(model, run, images):
    """Same logits (within ATOL), tokens, strings and scores as the PyTorch model; the runner's
    data samples."""
    cross, visual = model.decoder.decode(model.backbone(images))
    ours = run.decode(images.numpy())
    for got, want in zip(ours, (cross, visual)):
        assert got.shape == tuple(want.shape)
        assert np.abs(got - want.numpy()).max() <= ATOL
        assert np.array_equal(got.argmax(-1), want.argmax(-1).numpy())
    want = make_samples([''] * len(images), tuple(images.shape[-2:]))
    post = model.decoder.postprocessor   # PLMDecoder.predict's last steps
    post(visual.softmax(-1), want, field='visual_pred_text')
    post(cross.softmax(-1), want)
    got = run.postprocess(*ours)
    assert [s.pred_text.item for s in got] == [s.pred_text.item for s in want]
    assert [s.visual_pred_text.item for s in got] == [s.visual_pred_text.item for s in want]
    for a, b in zip(got, want):
        assert np.allclose(a.pred_text.score, b.pred_text.score, atol=ATOL)
    return cross, got


@pytest.mark.parametrize('backend', BACKENDS)
def test_tiny_model_with_staggered_ends(tiny, backend):
    model, run = tiny.model, runner(tiny, backend)
    images = tiny_images()
    cross, got = assert_same(model, run, images)
    # what the test is about: early stop, with samples ending at different steps
    with torch.no_grad():
        first = model.decoder.visual_decoder.decode_ar(model.backbone(images))
    assert first.shape[1] < run.max_length and len(set(ends(first))) > 1
    assert len(set(ends(cross))) > 1
    # batch 1: a sample that ends before the others, alone
    assert ends(cross)[1] < max(ends(cross))
    assert_same(model, run, images[1:2])
    alone = run.predict(images[1:2].numpy())[0]
    assert (alone.pred_text.item, alone.visual_pred_text.item) == \
        (got[1].pred_text.item, got[1].visual_pred_text.item)


@pytest.mark.parametrize('backend', BACKENDS)
def test_graph_calls_match_the_pytorch_decoding_steps(tiny, backend, monkeypatch):
    """Early stop, counted: each branch runs ``first`` once and ``step`` until every sample has
    ended, as many AR steps as the PyTorch decoder; one ``forward`` (refinement) per branch; the
    towers once per batch (the captions changed by refinement: once more)."""
    model, run = tiny.model, runner(tiny, backend)
    images = tiny_images()
    calls = {}
    for name, graph in run.graphs.items():
        monkeypatch.setitem(run.graphs, name, lambda _g=graph, _n=name, **inputs: (
            calls.__setitem__(_n, calls.get(_n, 0) + 1), _g(**inputs))[1])
    torch_steps = {}
    for branch in ('visual', 'cross'):
        network = getattr(model.decoder, f'{branch}_decoder')

        def counted(*args, _branch=branch, _run=network.run_layers, **kwargs):
            kind = 'ar' if kwargs.get('cache') is not None else 'other'
            torch_steps[_branch, kind] = torch_steps.get((_branch, kind), 0) + 1
            return _run(*args, **kwargs)
        monkeypatch.setattr(network, 'run_layers', counted)
    with torch.no_grad():
        steps = model.decoder.visual_decoder.decode_ar(model.backbone(images)).shape[1]
        torch_steps.clear()
        model.decoder.decode(model.backbone(images))
    assert 1 < steps < run.max_length
    run.decode(images.numpy())
    for branch in ('visual', 'cross'):
        assert calls[f'{branch}_first'] + calls[f'{branch}_step'] == \
            torch_steps[branch, 'ar'] == steps
        assert calls[f'{branch}_forward'] == torch_steps[branch, 'other'] == run.refine_iters
    assert calls['image_tower'] == 1 and calls['visual_memory'] == 1
    assert calls['text_tower'] == calls['cross_memory'] in (1, 2)


@pytest.mark.parametrize('backend', BACKENDS)
def test_official_fixture_strings(official, backend):
    model, stages, run = official.model, official.stages, runner(official, backend)
    images = torch.from_numpy(stages['images'])
    _, got = assert_same(model, run, images)
    # ... which are the official code's
    assert [s.pred_text.item for s in got] == list(stages['pred_raw'])
    assert [s.visual_pred_text.item for s in got] == list(stages['visual_pred_raw'])


def test_manifest_records_the_export(tiny):
    model, folder = tiny.model, tiny.folder
    manifest = read_manifest(folder)
    with open(tiny.checkpoint, 'rb') as f:
        assert manifest['checkpoint'] == dict(file='weights.pth',
                                              sha256=hashlib.sha256(f.read()).hexdigest())
    assert manifest['opset'] == 17 and manifest['precision'] == 'fp32'
    assert manifest['input'] == dict(size=[32, 128], data_preprocessor=PREPROCESSOR)
    decoding = manifest['decoding']
    assert (decoding['max_length'], decoding['bos_id'], decoding['eos_id']) == (26, 95, 0)
    assert decoding['caption_chars'][1:4] == ['0', '1', '2'] and decoding['text_length'] == 16
    with open(f'{folder}/dict.txt', encoding='utf-8') as f:
        assert f.read().split('\n')[:-1] == model.decoder.dictionary.dict[1:-2]
    assert sorted(manifest['graphs']) == sorted(
        ['image_tower', 'text_tower'] + [f'{b}_{g}' for b in ('visual', 'cross')
                                         for g in ('memory', 'first', 'step', 'forward')])


def test_missing_runtime_is_one_line(tiny, monkeypatch):
    for backend in BACKENDS:
        monkeypatch.setitem(sys.modules, backend, None)   # import fails as if not installed
        with pytest.raises(DeployError) as err:
            CLIP4STRRunner(tiny.folder, backend)
        assert str(err.value) == (f'{backend} is not installed: '
                                  f'pip install clip4str_plugin[{backend}]')


def test_refusals_name_the_problem(tmp_path, tiny):
    with pytest.raises(DeployError, match='is not an exported model: no manifest.json'):
        read_manifest(str(tmp_path))
    (tmp_path / 'manifest.json').write_text('{"format": "other"}')
    with pytest.raises(DeployError, match="not a clip4str-onnx/2 manifest \\(format 'other'\\)"):
        read_manifest(str(tmp_path))
    manifest = json.loads(open(f'{tiny.folder}/manifest.json').read())
    (tmp_path / 'manifest.json').write_text(json.dumps(manifest))
    with pytest.raises(DeployError, match='names image_tower.onnx, which is not in'):
        read_manifest(str(tmp_path))
    with pytest.raises(DeployError, match="unknown backend 'tensorrt'"):
        CLIP4STRRunner(tiny.folder, 'tensorrt')
    with pytest.raises(DeployError, match='only CLIP4STR recognizers export to ONNX here; '
                                          "this model's decoder is Identity"):
        export_recognizer(SimpleNamespace(decoder=torch.nn.Identity()), str(tmp_path), {})


def copy_export(src, dst):
    """A copy of the export ``src`` in ``dst``; returns (dst, its manifest as a dict)."""
    shutil.copytree(src, dst)
    return dst, json.loads((dst / 'manifest.json').read_text())


def test_a_mixed_or_escaping_folder_is_refused(tmp_path, tiny):
    folder, manifest = copy_export(tiny.folder, tmp_path / 'export')
    tower = folder / 'image_tower.onnx'
    original = tower.read_bytes()
    tower.write_bytes(original + b'\0')              # another export's graph, or damage
    with pytest.raises(DeployError, match=f'^{tower} is not the file {folder}/manifest.json was '
                       'written with \\(its SHA-256 differs\\): a mixed or damaged folder'):
        CLIP4STRRunner(str(folder), 'onnxruntime')
    outside = tmp_path / 'other' / 'image_tower.onnx'
    outside.parent.mkdir()
    outside.write_bytes(original)                  # the right bytes, in the wrong place
    for name in ('../other/image_tower.onnx', str(outside)):
        manifest['graphs']['image_tower'] = name
        manifest['sha256'][name] = manifest['sha256']['image_tower.onnx']
        (folder / 'manifest.json').write_text(json.dumps(manifest))
        with pytest.raises(DeployError, match=f'names {re.escape(name)}, which lies outside '
                           f'{folder}; a deployment folder holds its own files'):
            read_manifest(str(folder))
    manifest['graphs']['image_tower'] = 'image_tower.onnx'
    (folder / 'manifest.json').write_text(json.dumps(manifest))
    tower.unlink()
    tower.symlink_to(outside)                      # a link out of the folder
    with pytest.raises(DeployError, match='names image_tower.onnx, which lies outside'):
        read_manifest(str(folder))


@pytest.mark.parametrize('change, message', [
    (lambda m: m.pop('decoding'), "lacks \\['decoding'\\]"),
    (lambda m: m.pop('sha256'), "lacks \\['sha256'\\]"),
    (lambda m: m.update(graphs=['image_tower.onnx']), 'graphs is list .*, not dict'),
    (lambda m: m['decoding'].update(max_length='26'), "decoding.max_length is str '26', not int"),
    (lambda m: m['decoding'].pop('eos_id'), "lacks decoding.\\['eos_id'\\]"),
    (lambda m: m['input'].update(size=[32]), 'input.size is \\[32\\], not \\[height, width\\]'),
    (lambda m: m['graphs'].pop('visual_step'), "lacks the graphs \\['visual_step'\\]"),
    (lambda m: m['graphs'].update(text_tower=3), 'graphs.text_tower is int, not a file name'),
    (lambda m: m.update(format='clip4str-onnx/1'), "format 'clip4str-onnx/1'"),
    (lambda m: m['decoding'].update(answer='best'),
     "decoding.answer is 'best', not one of cross, visual, confident"),
], ids=['no-decoding', 'no-checksums', 'graphs-list', 'length-text', 'no-eos', 'size',
        'graph-missing', 'graph-number', 'old-format', 'answer'])
def test_a_broken_manifest_is_one_line(tmp_path, tiny, change, message):
    folder, manifest = copy_export(tiny.folder, tmp_path / 'export')
    change(manifest)
    (folder / 'manifest.json').write_text(json.dumps(manifest))
    with pytest.raises(DeployError, match=message):
        CLIP4STRRunner(str(folder), 'onnxruntime')
    (folder / 'manifest.json').write_text('{"format": "clip4str-onnx/2",')
    with pytest.raises(DeployError, match='manifest.json is not valid JSON'):
        CLIP4STRRunner(str(folder), 'onnxruntime')


def int8_folder(official):
    if not hasattr(official, 'int8'):
        needs('onnxruntime')
        official.int8 = official.folder + '_int8'
        quantize_folder(official.folder, official.int8)
    return official.int8


@pytest.mark.parametrize('backend', BACKENDS)
def test_int8_reads_as_fp32(official, backend):
    """Dynamic int8 on the official fixture's random weights (top-2 margins down to 0.002, the
    worst case for quantisation): at least 85 % of the characters as fp32 (measured: 1 - NED
    0.91 on ONNX Runtime, 0.99 on OpenVINO; identical strings 1 and 3 of 4)."""
    folder = int8_folder(official)
    images = official.stages['images']
    fp32 = runner(official, backend).predict(images)
    int8 = CLIP4STRRunner(folder, backend, threads=2).predict(images)
    for field in ('pred_text', 'visual_pred_text'):
        agreement = string_agreement([s.get(field).item for s in fp32],
                                     [s.get(field).item for s in int8])
        assert agreement['one_minus_ned'] >= 0.85, (field, agreement)


def test_int8_manifest(official):
    folder = int8_folder(official)
    manifest = read_manifest(folder)
    assert manifest['precision'] == 'int8'
    assert manifest['quantization']['method'] == 'onnxruntime.quantization.quantize_dynamic'
    assert manifest['decoding'] == read_manifest(official.folder)['decoding']
    for name in ('image_tower', 'visual_step'):   # int8 weights: smaller files
        assert os.path.getsize(f'{folder}/{name}.onnx') < \
            0.9 * os.path.getsize(f'{official.folder}/{name}.onnx')
    with pytest.raises(DeployError, match='holds int8 graphs; quantise the fp32 export'):
        quantize_folder(folder, folder + '_again')
    assert string_agreement(['ab', 'cd'], ['ab', 'ce']) == dict(strings=0.5, one_minus_ned=0.75)


@pytest.mark.parametrize('options', [dict(decoder=dict(depth=2), refine_iters=2),
                                     dict(decode_ar=False, refine_iters=0,
                                          caption_style='spelled'),
                                     dict(refine_iters=0, answer='confident')],
                         ids=['depth2-refine2', 'one-shot-spelled', 'confident'])
def test_other_decoding_options(options, tmp_path):
    """A content stream that the next layer reads (depth 2: the content mask and the cache of
    every layer), two refinement rounds; one-shot decoding without refinement, captions spelled
    out (``h e l l o``); the more probable branch's answer per sample (branches of different
    lengths without refinement)."""
    options = dict(options)
    cfg = load_config()
    cfg.model.decoder.decoder.update(options.pop('decoder', {}))
    cfg.model.decoder.update(options)
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    export_recognizer(model, str(tmp_path), PREPROCESSOR)
    exported = SimpleNamespace(folder=str(tmp_path), runners={})
    run = runner(exported, 'onnxruntime')
    assert run.steps.answer == model.decoder.answer
    assert_same(model, run, tiny_images(3))
    logits = torch.zeros(1, 3, run.manifest['decoding']['num_classes'])
    logits[0, [0, 1], [11, 12]] = 1   # 'ab', then [E]
    assert run.steps.captions(logits) == model.decoder.captions(logits) == \
        [{'plain': 'ab', 'spelled': 'a b'}[model.decoder.caption_style]]


def test_mmocr_wrapper(tiny):
    """DeployedTextRecognizer: MMOCR's test_step on raw images (its data preprocessor), the
    PyTorch model's strings; training and other input sizes refused in one line."""
    needs('onnxruntime')
    from mmocr.registry import MODELS
    wrapper = MODELS.build(dict(type='DeployedTextRecognizer', model_dir=tiny.folder))
    images = [torch.randint(0, 256, (3, 32, 128), dtype=torch.uint8) for _ in range(2)]
    data = dict(inputs=images, data_samples=make_samples(['', '']))
    got = wrapper.test_step(data)
    # the manifest's normalisation
    batch = wrapper.data_preprocessor(dict(inputs=images, data_samples=make_samples(['', ''])))
    with torch.no_grad():
        want = tiny.model.predict(batch['inputs'], batch['data_samples'])
    assert [s.pred_text.item for s in got] == [s.pred_text.item for s in want]
    with pytest.raises(DeployError, match="an exported model only predicts \\(mode 'loss'"):
        wrapper(torch.zeros(1, 3, 32, 128), None, mode='loss')
    with pytest.raises(DeployError, match='the exported image tower reads 32x128 images, the '
                                          'pipeline gives 32x100: use the config the model was '
                                          'exported with'):
        wrapper(torch.zeros(1, 3, 32, 100))
