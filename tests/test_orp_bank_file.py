"""The ORP bank file: written and read back (.npy, .safetensors), its shape from the header,
refusals of banks that cannot serve a memory, and the tower fingerprint in its metadata."""
import hashlib
import re

import pytest
import torch
from safetensors.torch import save_file

from clip4str_plugin.errors import DataNotFoundError
from clip4str_plugin.orp_bank_file import (ORPBankError, bank_shape, bank_tower, check_bank,
                                           load_bank, tower_fingerprint, write_bank)


def test_bank_files_round_trip_and_refusals(tmp_path):
    bank = torch.randn(3, 5, 4)
    for name in ('bank.npy', 'bank.safetensors'):
        path = str(tmp_path / name)
        write_bank(bank, path)
        assert bank_shape(path) == (3, 5, 4)
        assert torch.equal(load_bank(path), bank.half())
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bank.npy', 'bank.safetensors']
    damaged = tmp_path / 'damaged.safetensors'
    damaged.write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"features": 1')
    with pytest.raises(ORPBankError, match=f'cannot read ORP bank {damaged} .*: delete it to '
                                           'rebuild it'):
        bank_shape(str(damaged))
    check_bank((3, 5, 4), 'b', tokens=5, width=4, batch_size=3)       # exactly enough
    for shape in [(3, 4, 4), (3, 5, 8), (2, 5, 4)]:
        with pytest.raises(ORPBankError, match=rf'ORP bank b has shape {re.escape(str(shape))} '
                           r'but the model needs \(N >= 3, T >= 5, D = 4\).*; rebuild'):
            check_bank(shape, 'b', tokens=5, width=4, batch_size=3, rebuild='; rebuild')
    with pytest.raises(ORPBankError, match='must be .safetensors or .npy, got b.pt'):
        write_bank(bank, 'b.pt')


def test_banks_that_cannot_be_features_are_refused_on_load(tmp_path):
    path = str(tmp_path / 'bank.safetensors')
    for tensors, why in [({'other': torch.zeros(2, 3, 4)}, 'has no "features" tensor'),
                         ({'features': torch.zeros(2, 3)}, r'has shape \(2, 3\); expected'),
                         ({'features': torch.ones(2, 3, 4, dtype=torch.int8)},
                          'is int8, not floating-point features'),
                         ({'features': torch.tensor([[[1.0, float('inf')]]])},
                          'holds 1 NaN or infinite values of 2: a damaged file')]:
        save_file(tensors, path)
        with pytest.raises(ORPBankError, match=why):
            load_bank(path)
    with pytest.raises(DataNotFoundError, match='ORP feature bank not found: .*none.npy'):
        load_bank(str(tmp_path / 'none.npy'))


def test_a_bank_records_the_tower_that_built_it(tmp_path):
    """The fingerprint: a weights file's SHA-256 (equal bytes, equal fingerprint, wherever the
    file is), else the random tower's config; in a safetensors bank's metadata."""
    tower = dict(type='CLIPVisionBackbone', width=32, layers=1)
    (tmp_path / 'a.safetensors').write_bytes(b'weights a')
    (tmp_path / 'b.safetensors').write_bytes(b'weights b')
    (tmp_path / 'a_copy.safetensors').write_bytes(b'weights a')
    a, b, copy = (tower_fingerprint(dict(tower, pretrained=str(tmp_path / name)))
                  for name in ('a.safetensors', 'b.safetensors', 'a_copy.safetensors'))
    assert a == f'weights sha256 {hashlib.sha256(b"weights a").hexdigest()}' == copy != b
    assert tower_fingerprint(dict(tower, pretrained=None)) == \
        'random (seed 0) {"layers": 1, "type": "CLIPVisionBackbone", "width": 32}'
    assert tower_fingerprint(tower) != tower_fingerprint(dict(tower, layers=2))
    with pytest.raises(DataNotFoundError, match='tower weights not found: .*none.safetensors'):
        tower_fingerprint(dict(tower, pretrained=str(tmp_path / 'none.safetensors')))
    write_bank(torch.zeros(2, 3, 4), str(tmp_path / 'bank.safetensors'), tower=a)
    write_bank(torch.zeros(2, 3, 4), str(tmp_path / 'bank.npy'), tower=a)
    assert bank_tower(str(tmp_path / 'bank.safetensors')) == a
    assert bank_tower(str(tmp_path / 'bank.npy')) is None
