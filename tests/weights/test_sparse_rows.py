"""Sparse-row tables in CLIP ``.safetensors`` files (clip4str_plugin/weights/sparse_rows.py):
written when smaller, made dense again by the CLIP weight loader, refused in one line when the
rows, values and dense shape do not fit; the shipped small CLIP stored so."""
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from clip4str_plugin.models.clip.towers import CLIPTextEncoder
from clip4str_plugin.models.clip import towers
from clip4str_plugin.text.charsets import CHARSET_36
from clip4str_plugin.weights.clip_weights import CLIPWeightsError, load_clip_state_dict
from clip4str_plugin.weights.sparse_rows import save_file_sparse_rows
from conftest import CONFIGS, ROOT

SHIPPED = ROOT / 'assets' / 'clip' / 'clip_tiny_words.safetensors'
TABLE = 'token_embedding.weight'


def clip_like_state(rows=(0, 3, 7, 999)):
    """A token table (1000 x 8, fp16) non-zero in ``rows`` only, and two other tensors."""
    torch.manual_seed(0)
    table = torch.zeros(1000, 8, dtype=torch.float16)
    table[list(rows)] = torch.randn(len(rows), 8).half()
    return {TABLE: table, 'positional_embedding': torch.randn(5, 8).half(),
            'logit_scale': torch.tensor(4.6)}


def file_contents(path):
    with safe_open(str(path), framework='pt') as f:
        return set(f.keys()), f.metadata()


def test_round_trip_dense_sparse_dense(tmp_path):
    state = clip_like_state()
    state[TABLE][50] = -0.0     # a row of -0.0 is a zero row: it comes back +0.0
    path = tmp_path / 'clip.safetensors'
    save_file_sparse_rows(state, str(path), {'source': 'x.pth'}, names=[TABLE])
    keys, meta = file_contents(path)
    assert keys == {TABLE + '.rows', TABLE + '.values', 'positional_embedding', 'logit_scale'}
    assert meta == {'source': 'x.pth', 'sparse_rows': json.dumps({TABLE: [1000, 8]})}
    with safe_open(str(path), framework='pt') as f:
        assert f.get_tensor(TABLE + '.rows').tolist() == [0, 3, 7, 999]
        assert f.get_tensor(TABLE + '.rows').dtype == torch.int64
    loaded = load_clip_state_dict(str(path))
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype
        assert torch.equal(loaded[key], value)
    assert torch.equal(loaded[TABLE].view(torch.int16), (state[TABLE] + 0.0).view(torch.int16))
    dense = tmp_path / 'dense.safetensors'
    save_file(state, str(dense))
    assert path.stat().st_size < dense.stat().st_size / 10


@pytest.mark.parametrize('nonzero, sparse', [(666, True), (667, False)])
def test_rows_are_stored_when_smaller(tmp_path, nonzero, sparse):
    """1000 rows of 16 bytes: k rows cost k * (16 + 8) bytes, less than dense for k <= 666."""
    state = clip_like_state(rows=range(nonzero))
    path = tmp_path / 'clip.safetensors'
    save_file_sparse_rows(state, str(path), {'source': 'x.pth'}, names=[TABLE])
    keys, meta = file_contents(path)
    assert (TABLE in keys, 'sparse_rows' in meta) == (not sparse, sparse)
    loaded = load_clip_state_dict(str(path))
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


@pytest.mark.parametrize('rows, values, problem', [
    ([1, 100], (2, 8), '1 indices out of range [0, 100) (first: 100)'),
    ([4, 2, 4], (3, 8), '1 indices repeated (first: 4)'),
    ([1, 2], (2, 4), 'values (2, 4) do not match 2 rows of the dense shape (100, 8) '
                     '(expected (2, 8))'),
    ([1, 2], (3, 8), 'values (3, 8) do not match 2 rows of the dense shape (100, 8) '
                     '(expected (2, 8))'),
])
def test_a_sparse_entry_that_does_not_fit_is_one_error_naming_the_file(
        tmp_path, rows, values, problem):
    path = tmp_path / 'bad.safetensors'
    save_file({TABLE + '.rows': torch.tensor(rows), TABLE + '.values': torch.ones(values),
               'logit_scale': torch.tensor(4.6)}, str(path),
              metadata={'sparse_rows': json.dumps({TABLE: [100, 8]})})
    with pytest.raises(CLIPWeightsError) as err:
        load_clip_state_dict(str(path))
    assert str(err.value) == f'{path}: sparse rows of {TABLE}: {problem}; re-export the file'


@pytest.mark.parametrize('tensors, meta, problem', [
    ({TABLE + '.rows': torch.tensor([1])}, {TABLE: [100, 8]},
     f'sparse rows of {TABLE}: the file lacks {TABLE}.rows or {TABLE}.values'),
    ({TABLE + '.rows': torch.tensor([1.0]), TABLE + '.values': torch.ones(1, 8)},
     {TABLE: [100, 8]},
     f'sparse rows of {TABLE}: indices must be int64 or int32 of shape (k,), got torch.float32 '
     '(1,)'),
    ({}, {TABLE: 100}, "metadata 'sparse_rows' is not a JSON map from tensor names to dense "
                       'shapes (\'{"token_embedding.weight": 100}\')'),
])
def test_broken_sparse_metadata_or_indices_are_refused(tmp_path, tensors, meta, problem):
    path = tmp_path / 'bad.safetensors'
    save_file(dict(tensors, logit_scale=torch.tensor(4.6)), str(path),
              metadata={'sparse_rows': json.dumps(meta)})
    with pytest.raises(CLIPWeightsError) as err:
        load_clip_state_dict(str(path))
    assert str(err.value) == f'{path}: {problem}; re-export the file'


def test_shipped_clip_is_sparse_and_loads_its_38_spelled_rows():
    """assets/clip/clip_tiny_words.safetensors keeps the token rows of spelled captions (start,
    end, 0-9, a-z) only; CLIPTextEncoder gets the dense 49 408-row table back."""
    from mmengine.config import Config
    keys, meta = file_contents(SHIPPED)
    assert TABLE not in keys and json.loads(meta['sparse_rows']) == {TABLE: [49408, 128]}
    assert SHIPPED.stat().st_size < 2_500_000
    spelled = sorted({i for char in CHARSET_36 for i in towers.encode(char, 3)})
    text_cfg = Config.fromfile(str(CONFIGS / 'clip' / 'clip-tiny_synth-broad.py')).model.text
    text_cfg = {k: v for k, v in text_cfg.items() if k != 'type'}
    encoder = CLIPTextEncoder(**dict(text_cfg, pretrained=str(SHIPPED)))
    encoder.init_weights()
    table = encoder.text.token_embedding.weight
    assert table.shape == (49408, 128)
    assert torch.nonzero(table.abs().sum(1)).flatten().tolist() == spelled
    assert len(spelled) == 38
    with safe_open(str(SHIPPED), framework='pt') as f:
        assert f.get_tensor(TABLE + '.rows').tolist() == spelled
        assert torch.equal(table[spelled], f.get_tensor(TABLE + '.values').float())


def test_the_loader_makes_sparse_tables_dense(tmp_path):
    """``load_from=`` / MMEngine's ``load_checkpoint`` on a sparse-row file see the dense table
    (clip4str_plugin/weights/loading.py), and a broken entry is one error."""
    from clip4str_plugin.weights.errors import CheckpointReadError
    from clip4str_plugin.weights.loading import load_checkpoint_file
    state = clip_like_state()
    path = tmp_path / 'clip.safetensors'
    save_file_sparse_rows(state, str(path), {'source': 'x.pth'}, names=[TABLE])
    loaded = load_checkpoint_file(str(path))['state_dict']
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    bad = tmp_path / 'bad.safetensors'
    save_file({TABLE + '.rows': torch.tensor([1, 100]), TABLE + '.values': torch.ones(2, 8)},
              str(bad), metadata={'sparse_rows': json.dumps({TABLE: [100, 8]})})
    with pytest.raises(CheckpointReadError, match=r'1 indices out of range \[0, 100\)'):
        load_checkpoint_file(str(bad))
