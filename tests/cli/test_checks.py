"""clip4str_plugin.cli.checks: each refused value is one ``error:`` line (SystemExit)."""
import pytest
import torch

from clip4str_plugin.cli.checks import (check_config, check_device, check_output_dir,
                                               check_output_file, check_positive)


def refusal(check, *args) -> str:
    with pytest.raises(SystemExit) as done:
        check(*args)
    return str(done.value.code)


@pytest.mark.parametrize('value, shown', [(0, '0'), (-1, '-1'), ([8, 0], '0'), (1.5, '1.5'),
                                          (True, 'True')])
def test_positive_counts(value, shown):
    assert refusal(check_positive, '--batch-size', value) == \
        f'error: --batch-size must be a positive whole number, got {shown}'


def test_positive_counts_pass():
    check_positive('--batch-sizes', [1, 8, 32])
    check_positive('--num', 5)


def test_devices(monkeypatch):
    assert check_device(None) is None and check_device('cpu') == 'cpu'
    assert refusal(check_device, 'foo') == \
        'error: --device foo: not a device (cpu, cuda, cuda:1 ...)'
    assert refusal(check_device, 'cuda:x') == \
        'error: --device cuda:x: not a device (cpu, cuda, cuda:1 ...)'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.version, 'cuda', None)
    assert refusal(check_device, 'cuda') == 'error: --device cuda: cuda is not available here ' \
        '(this torch is built without CUDA); use --device cpu'
    monkeypatch.setattr(torch.version, 'cuda', '13.0')
    assert refusal(check_device, 'cuda:0') == 'error: --device cuda:0: cuda is not available ' \
        'here (no such device is visible); use --device cpu'
    assert 'meta is not available here' in refusal(check_device, 'meta')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    assert check_device('cuda:1') == 'cuda:1'
    assert refusal(check_device, 'cuda:2') == \
        'error: --device cuda:2: only 2 cuda device(s) visible (cuda:0 to cuda:1)'


def test_configs(tmp_path):
    (tmp_path / 'a.py').write_text('x = 1\n')
    assert check_config(str(tmp_path / 'a.py')) == str(tmp_path / 'a.py')
    assert refusal(check_config, str(tmp_path / 'b.py')) == \
        f'error: config not found: {tmp_path / "b.py"}'
    assert refusal(check_config, str(tmp_path), '--config') == \
        f'error: --config {tmp_path} is a folder, not a config file'


def test_output_folders_and_files(tmp_path):
    afile = tmp_path / 'afile'
    afile.write_text('')
    assert check_output_dir(str(tmp_path / 'new' / 'deeper'), '--out-dir')
    assert check_output_file(str(tmp_path / 'new' / 'x.json'), '--out')
    assert refusal(check_output_dir, str(afile), '--out-dir') == f'error: --out-dir {afile} ' \
        'is a file, not a folder: give a folder (created when missing)'
    assert refusal(check_output_dir, str(afile / 'sub'), '--out-dir') == \
        f'error: --out-dir {afile / "sub"}: {afile} is a file, so no folder can be made in it'
    assert refusal(check_output_file, str(tmp_path), '--out') == \
        f'error: --out {tmp_path} is a folder: give the name of the file to write'
    assert refusal(check_output_file, str(afile / 'x.json'), '--out') == \
        f'error: --out {afile / "x.json"}: {afile} is a file, so no folder can be made in it'
