"""CLIP weights: malformed files are one line, files that would run code are refused; by name
(open_clip tags, hf-hub references), offline, from a local Hub cache.

The cache is laid out as huggingface_hub lays it out (its ``repo_folder_name``; checked with its
``try_to_load_from_cache``), and huggingface_hub runs in offline mode: nothing is downloaded.
"""
import pickle
import zipfile

import open_clip
import pytest
import torch
from huggingface_hub import constants
from safetensors.torch import save_file
from torch import nn

from clip4str_plugin.models.clip.towers import CLIPTextEncoder, CLIPVisionBackbone
from clip4str_plugin.weights.clip_weights import (CLIPWeightsError, WeightsNameError,
                                                  load_clip_state_dict, resolve_weights,
                                                  split_hf_ref)
from clip4str_plugin.weights.errors import CheckpointError
from conftest import Exploit
from fixtures.hub_cache import cache_file


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An offline Hugging Face Hub whose cache is ``tmp_path / 'hub'``."""
    cache = tmp_path / 'hub'
    cache.mkdir()
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(cache))
    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', True)
    return cache


@pytest.fixture(scope='module')
def clip_state():
    """A one-layer open_clip CLIP's weights (OpenAI key layout)."""
    torch.manual_seed(1)
    model = open_clip.model.CLIP(
        32, dict(image_size=32, patch_size=16, width=64, layers=1),
        dict(context_length=77, vocab_size=49408, width=64, heads=1, layers=1), quick_gelu=True)
    return {k: v.clone().contiguous() for k, v in model.state_dict().items()}


def save_safetensors(state):
    return lambda path: save_file(state, str(path))


def save_bin(state):
    return lambda path: torch.save(state, str(path))


def assert_loaded(pretrained, state):
    vision = CLIPVisionBackbone(32, image_size=32, patch_size=16, width=64, layers=1,
                                pretrained=pretrained)
    text = CLIPTextEncoder(32, width=64, layers=1, heads=1, freeze_nlayer=0,
                           pretrained=pretrained)
    vision.init_weights()
    text.init_weights()
    for key, value in vision.visual.state_dict().items():
        assert torch.equal(value, state[f'visual.{key}']), key
    for key, value in text.text.state_dict().items():
        if key != 'attn_mask':
            assert torch.equal(value, state[key]), key


def test_hf_hub_repo_with_open_clips_file_names(hub_cache, clip_state):
    # only the .bin is cached: open_clip's preferred .safetensors is tried first, then the .bin
    cache_file(hub_cache, 'someone/tiny-clip', 'open_clip_pytorch_model.bin', save_bin(clip_state))
    assert_loaded('hf-hub:someone/tiny-clip', clip_state)


def test_hf_hub_file_in_a_subfolder(hub_cache, clip_state):
    path = cache_file(hub_cache, 'someone/weights', 'clip/tiny.safetensors',
                      save_safetensors(clip_state))
    assert resolve_weights('hf-hub:someone/weights/clip/tiny.safetensors') == str(path)
    assert_loaded('hf-hub:someone/weights/clip/tiny.safetensors', clip_state)


def test_open_clip_tag_goes_through_open_clips_table(hub_cache, clip_state):
    """'ViT-B-16:openai' is on the Hub for open_clip (timm/vit_base_patch16_clip_224.openai);
    a tiny file cached under that repository is what the tag resolves to."""
    from open_clip.pretrained import get_pretrained_cfg
    repo_id = get_pretrained_cfg('ViT-B-16', 'openai')['hf_hub'].strip('/')
    path = cache_file(hub_cache, repo_id, 'open_clip_model.safetensors',
                      save_safetensors(clip_state))
    assert resolve_weights('ViT-B-16:openai') == str(path)
    assert_loaded('ViT-B-16:openai', clip_state)


def test_no_network_and_not_cached_is_one_line(hub_cache):
    for ref, cached in (('hf-hub:someone/absent', 'someone/absent'), ('ViT-B-32:openai', None)):
        with pytest.raises(CLIPWeightsError) as err:
            load_clip_state_dict(ref)
        message = str(err.value)
        assert isinstance(err.value, CheckpointError)   # the tools print it as one line
        assert '\n' not in message and message.startswith(f'cannot fetch {ref}')
        assert 'HF_HUB_OFFLINE' in message or 'cannot be reached' in message or \
            'connection' in message.lower(), message
        assert 'give a local file' in message
    with pytest.raises(CLIPWeightsError, match=r'^cannot fetch hf-hub:someone/absent: it is not '
                       rf'in the Hugging Face cache \({hub_cache}\) and HF_HUB_OFFLINE is set; '):
        load_clip_state_dict('hf-hub:someone/absent')


def test_names_that_resolve_to_nothing(hub_cache, tmp_path):
    with pytest.raises(CLIPWeightsError, match=r"^open_clip has no weights 'ViT-B-16:nonsense'; "
                       'the tags of ViT-B-16 are: .*openai'):
        load_clip_state_dict('ViT-B-16:nonsense')
    # neither a file nor an open_clip model: the missing file, with the accepted forms
    with pytest.raises(CLIPWeightsError, match=r"not found: NoSuchNet:openai \(CLIP weights are "
                       r"a local file, an open_clip 'model:tag'"):
        load_clip_state_dict('NoSuchNet:openai')
    with pytest.raises(WeightsNameError, match='is not a Hub reference'):
        split_hf_ref('hf-hub:only-org')
    assert split_hf_ref('hf-hub:org/repo') == ('org/repo', None)
    local = tmp_path / 'ViT-B-16:openai'   # an existing file wins over the name
    local.write_bytes(b'x')
    assert resolve_weights(str(local)) == str(local)


def test_an_unreachable_hub_is_asked_once_then_only_the_cache(hub_cache, monkeypatch):
    """Without network huggingface_hub retries for a while; the second file name is then only
    looked up in the cache, and the error says the Hub cannot be reached."""
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError
    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', False)
    calls = []

    def no_network(repo_id, filename, local_files_only=False):
        calls.append((filename, local_files_only))
        raise LocalEntryNotFoundError('connection error and not in the cache')

    monkeypatch.setattr(huggingface_hub, 'hf_hub_download', no_network)
    with pytest.raises(WeightsNameError, match=r'^cannot fetch hf-hub:org/repo: it is not in the '
                       rf'Hugging Face cache \({hub_cache}\) and the Hugging Face Hub cannot be '
                       'reached; '):
        resolve_weights('hf-hub:org/repo')
    assert calls == [('open_clip_model.safetensors', False),
                     ('open_clip_pytorch_model.bin', True)]


@pytest.mark.parametrize('pickle_bytes, why', [
    (b'\x80\x02' + b'e' * 4 + b'.', 'IndexError: pop from empty list'),
    (b'\x80\x020.', 'Unsupported operand 48')])
def test_a_malformed_pickle_is_one_line(tmp_path, pickle_bytes, why):
    """torch's weights-only reader on bytes that are no pickle: the reason in one line, not
    torch's paragraphs of advice nor a raw IndexError."""
    path = tmp_path / 'clip.pt'
    path.write_bytes(pickle_bytes)
    with pytest.raises(CLIPWeightsError) as err:
        load_clip_state_dict(str(path))
    assert str(err.value) == f'cannot read checkpoint {path}: damaged ({why})'


@pytest.mark.filterwarnings('ignore:`torch.jit:FutureWarning')
def test_a_torchscript_archive_that_would_run_code_is_refused(tmp_path):
    """OpenAI-style TorchScript files are read by torch.jit.load: a data.pkl naming os.system is
    one line and nothing runs."""
    marker, scripted, evil = tmp_path / 'pwned', tmp_path / 'ok.pt', tmp_path / 'evil.pt'
    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), str(scripted))
    with zipfile.ZipFile(scripted) as src, zipfile.ZipFile(evil, 'w') as dst:
        for name in src.namelist():
            dst.writestr(name, pickle.dumps({'w': Exploit(marker)}, protocol=2)
                         if name.endswith('/data.pkl') else src.read(name))
    assert set(load_clip_state_dict(str(scripted))) == {'weight', 'bias'}
    with pytest.raises(CLIPWeightsError) as err:
        load_clip_state_dict(str(evil))
    assert str(err.value) == (f'cannot read CLIP weights from {evil}: the file is corrupt, '
                              'truncated or not a weights file (RuntimeError: Unknown type name '
                              "'posix.system':)")
    assert not marker.exists()
