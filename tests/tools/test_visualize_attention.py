"""tools/visualize_attention.py: a PNG per readable image, unreadable ones named and counted, no
PNG replaced without --overwrite, one line for a model whose decoder does not read patches."""
import sys

import cv2
import numpy as np
import pytest
import torch

from conftest import ROOT, TINY_CONFIG, tiny_model


@pytest.fixture(scope='module')
def tool():
    sys.path.insert(0, str(ROOT / 'tools'))
    try:
        import visualize_attention
        yield visualize_attention
    finally:
        sys.path.remove(str(ROOT / 'tools'))


@pytest.fixture(scope='module')
def model_files(tmp_path_factory):
    """The tiny CLIP4STR reading at most 5 characters (fewer decoding steps): config, weights."""
    tmp = tmp_path_factory.mktemp('ckpt')
    config, weights = tmp / 'tiny5.py', tmp / 'tiny5.pth'
    config.write_text(f"_base_ = ['{TINY_CONFIG}']\nmodel = dict(decoder=dict(max_seq_len=5))\n")
    torch.save(dict(state_dict=tiny_model(max_seq_len=5).state_dict(), meta=dict()), str(weights))
    return str(config), str(weights)


def test_a_png_per_image_skips_counted_no_overwrite(tool, model_files, tmp_path, capsys):
    rng = np.random.default_rng(0)
    (tmp_path / 'in' / 'sub').mkdir(parents=True)
    images = [tmp_path / 'in' / 'a.png', tmp_path / 'in' / 'sub' / 'a.png']
    for path in images:
        cv2.imwrite(str(path), (rng.random((40, 120, 3)) * 255).astype(np.uint8))
    broken = tmp_path / 'in' / 'broken.jpg'
    broken.write_bytes(b'not an image')
    out = tmp_path / 'out'
    options = ['--config', model_files[0], '--weights', model_files[1], '--out-dir', str(out),
               '--device', 'cpu']
    tool.main([str(tmp_path / 'in'), *options])
    printed = capsys.readouterr()
    assert '2 attention grids written to ' + str(out) + ', 1 images skipped (unreadable)' \
        in printed.out
    assert f'skipped {broken}: not a decodable image' in printed.err
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob('*.png'))
    assert written == ['a.png.png', 'sub/a.png.png']
    png = cv2.imread(str(out / 'a.png.png'))
    assert png is not None and png.shape[1] > png.shape[0] > 100    # two rows of wide panels
    stamp = (out / 'a.png.png').stat().st_mtime_ns
    with pytest.raises(SystemExit, match=r'error: 2 of the 3 PNGs already exist \(e.g. '):
        tool.main([str(tmp_path / 'in'), *options])
    assert (out / 'a.png.png').stat().st_mtime_ns == stamp
    tool.main([str(images[0]), *options, '--overwrite'])
    assert (out / 'a.png.png').stat().st_mtime_ns != stamp


def test_a_recognizer_with_an_encoder_is_one_line(tool, tmp_path):
    cfg = tmp_path / 'fmu.py'
    cfg.write_text(f"_base_ = ['{TINY_CONFIG}']\n"
                   "model = dict(encoder=dict(type='FeatureMergeUnit', embed_dim=128))\n")
    image = tmp_path / 'w.png'
    cv2.imwrite(str(image), np.zeros((32, 100, 3), np.uint8))
    torch.manual_seed(0)
    from conftest import build_model, load_config
    model = build_model(load_config(cfg).model)
    ckpt = tmp_path / 'fmu.pth'
    torch.save(dict(state_dict=model.state_dict()), str(ckpt))
    with pytest.raises(SystemExit, match='^error: the decoder reads FeatureMergeUnit tokens, not '
                                         'image patches: attention maps need a recognizer '
                                         'without an encoder$'):
        tool.main([str(image), '--config', str(cfg), '--weights', str(ckpt), '--device', 'cpu',
                   '--out-dir', str(tmp_path / 'out')])
