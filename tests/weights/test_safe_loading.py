"""Checkpoints given as URLs or model-zoo names: downloaded (a local HTTP server here) into
torch.hub's cache and read weights-only, like local files; a hostile one is refused."""
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from clip4str_plugin.weights.errors import CheckpointReadError
from clip4str_plugin.weights.safe_loading import use_weights_only_loader
from clip4str_plugin.weights.safe_loading import cached_path
from conftest import Exploit
from test_loading import mmengine_like_checkpoint


class _QuietHandler(SimpleHTTPRequestHandler):

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """``(folder served over http://127.0.0.1, base URL)``; the switch on, torch.hub's cache in
    tmp_path; all undone after the test."""
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    use_weights_only_loader()
    folder = tmp_path / 'served'
    folder.mkdir()
    httpd = ThreadingHTTPServer(('127.0.0.1', 0),
                                functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield folder, f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    thread.join()


def test_a_url_is_downloaded_once_and_read_weights_only(server, tmp_path, monkeypatch):
    folder, base = server
    torch.save(mmengine_like_checkpoint(), str(folder / 'iter_4.pth'))
    loaded = _load_checkpoint(f'{base}/iter_4.pth', map_location='cpu')
    assert loaded['meta']['iter'] == 4 and torch.equal(loaded['state_dict']['w'], torch.ones(3))
    assert [p.name for p in (tmp_path / 'hub' / 'checkpoints').glob('*/*')] == ['iter_4.pth']
    (folder / 'iter_4.pth').unlink()
    assert _load_checkpoint(f'{base}/iter_4.pth')['meta']['iter'] == 4    # from the cache
    # a model-zoo name resolves through MMEngine's table, then the same way
    torch.save({'fc.weight': torch.ones(2, 2)}, str(folder / 'tiny-0123abcd.pth'))
    monkeypatch.setattr(mmengine_checkpoint, 'get_torchvision_models',
                        lambda: {'tiny': f'{base}/tiny-0123abcd.pth'})
    assert torch.equal(_load_checkpoint('torchvision://tiny')['fc.weight'], torch.ones(2, 2))


def test_a_hostile_download_is_refused_and_never_run(server, tmp_path):
    folder, base = server
    marker = tmp_path / 'marker'
    ckpt = mmengine_like_checkpoint()
    ckpt['meta']['payload'] = Exploit(marker)
    torch.save(ckpt, str(folder / 'evil.pth'))
    with pytest.raises(CheckpointReadError, match=r'^refusing .*evil.pth: .*posix.system'):
        _load_checkpoint(f'{base}/evil.pth')
    assert not marker.exists()
    with pytest.raises(CheckpointReadError, match=r'^cannot download checkpoint .*absent.pth: '
                                                  r'HTTP Error 404'):
        _load_checkpoint(f'{base}/absent.pth')
    # a download gets the byte checks of a local file (here: a truncated archive)
    data = (folder / 'evil.pth').read_bytes()
    (folder / 'cut.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointReadError, match=r'cut.pth.*truncated'):
        _load_checkpoint(f'{base}/cut.pth')
    # schemes this module cannot read keep MMEngine's own loaders (not refused)
    for name in ('s3://bucket/iter_4.pth', 'petrel://bucket/iter_4.pth', 'pavi://run/iter_4'):
        assert CheckpointLoader._get_checkpoint_loader(name).__module__ == \
            'mmengine.runner.checkpoint'


def test_two_urls_of_the_same_file_name_are_two_checkpoints(server, tmp_path):
    folder, base = server
    for name, step in (('a', 1), ('b', 2)):
        (folder / name).mkdir()
        ckpt = mmengine_like_checkpoint()
        ckpt['meta']['iter'] = step
        torch.save(ckpt, str(folder / name / 'model.pth'))
    assert _load_checkpoint(f'{base}/a/model.pth')['meta']['iter'] == 1
    assert _load_checkpoint(f'{base}/b/model.pth')['meta']['iter'] == 2
    assert _load_checkpoint(f'{base}/a/model.pth')['meta']['iter'] == 1     # each from its copy
    assert cached_path(f'{base}/a/model.pth') != cached_path(f'{base}/b/model.pth')
