"""ContrastiveCLIP: captions, learning on a tiny batch with unseen token rows kept at zero, and
the exported CLIP weights loading into CLIPVisionBackbone / CLIPTextEncoder (and the broad
CLIP4STR config) with identical outputs; tools/export_clip.py."""
import pytest
import torch
from mmengine.structures import LabelData
from mmocr.structures import TextRecogDataSample
from safetensors import safe_open
from safetensors.torch import save_file

from clip4str_plugin.models.clip.contrastive import clip_state_dict
from clip4str_plugin.models.clip.towers import CLIPTextEncoder, CLIPVisionBackbone
from clip4str_plugin.weights.clip_weights import load_clip_state_dict
from conftest import CONFIGS, ROOT, build_model, run_tool

VISION = dict(embed_dim=32, image_size=(16, 32), patch_size=(8, 8), width=32, layers=1,
              heads=1, pos_embed_init='sincos')
TEXT = dict(embed_dim=32, width=32, layers=1, heads=1, text_length=8)
OPENAI_KEYS = ('visual.', 'token_embedding.', 'positional_embedding', 'transformer.',
               'ln_final.', 'text_projection', 'logit_scale')


def model(**kwargs):
    torch.manual_seed(0)
    return build_model(dict(type='ContrastiveCLIP', vision=VISION, text=TEXT, **kwargs))


def samples(words):
    out = []
    for word in words:
        sample = TextRecogDataSample(metainfo=dict(img_shape=(16, 32), valid_ratio=1.0))
        sample.gt_text = LabelData(item=word)
        out.append(sample)
    return out


def test_captions_and_exported_key_layout():
    clip = model()
    assert clip.captions(samples(['Hello,', 'A-4b'])) == ['hello', 'a4b']
    assert model(caption_style='spelled').captions(samples(['Hi-5x'])) == ['h i 5 x']
    assert model(caption_template="a photo of a '{}'").captions(samples(['Hi'])) == [
        "a photo of a 'hi'"]
    with pytest.raises(ValueError, match="caption_style must be one of plain, spelled"):
        model(caption_style='letters')
    assert not clip.text.text.token_embedding.weight.detach().any()    # zero-initialised
    assert all(p.requires_grad for p in clip.parameters())    # both towers train entirely
    exported = clip_state_dict(clip.state_dict())
    assert {'token_embedding.weight', 'positional_embedding', 'text_projection', 'logit_scale',
            'ln_final.weight', 'visual.proj', 'visual.conv1.weight'} <= set(exported)
    assert all(k.startswith(OPENAI_KEYS) for k in exported), sorted(exported)
    # every CLIP tensor is exported; nothing else is
    assert len(exported) == len([k for k in clip.state_dict() if not k.startswith('data_')])


@pytest.fixture
def flush_denormal():
    # this 32-wide toy model runs into denormal floats (20x slower steps on x86 without
    # flush-to-zero); the real geometry does not
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)


def test_loss_decreases_and_unseen_rows_stay_zero(flush_denormal):
    clip = model(caption_style='spelled')
    batch = samples(['cat', 'dog', 'bird', 'fish', 'cow', 'horse', 'lion', 'bear'])
    torch.manual_seed(1)
    images = torch.randn(len(batch), 3, 16, 32)
    opt = torch.optim.AdamW(clip.parameters(), lr=5e-3, weight_decay=0.1)
    losses = []
    for _ in range(10):
        out = clip(images, batch, mode='loss')
        opt.zero_grad()
        out['loss'].backward()
        opt.step()
        losses.append(out['loss'].item())
    assert losses[-1] < 0.6 * losses[0], losses
    used = set(clip.text.tokenize(clip.captions(batch)).flatten().tolist())
    rows = clip.text.text.token_embedding.weight.abs().sum(1)
    nonzero = set(torch.nonzero(rows).flatten().tolist())
    assert 0 < len(nonzero) and nonzero <= used


def test_contrastive_logits_stay_fp32_under_autocast():
    clip = model(caption_style='spelled')
    batch = samples(['cat', 'dog', 'bird', 'fish'])
    images = torch.randn(len(batch), 3, 16, 32)
    seen = {}

    class Probe(torch.nn.Module):
        """open_clip's ClipLoss, noting the autocast state and input dtypes it runs under"""

        def forward(self, image, text, scale):
            seen.update(autocast=torch.is_autocast_enabled('cpu'),
                        dtypes={image.dtype, text.dtype, scale.dtype})
            return real(image, text, scale)

    real, clip.loss_fn = clip.loss_fn, Probe()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = clip(images, batch, mode='loss')
    assert seen == dict(autocast=False, dtypes={torch.float32})
    assert out['loss'].dtype == torch.float32 and out['loss'].requires_grad


def test_predict_fields():
    clip = model().eval()
    out = clip(torch.randn(2, 3, 16, 32), samples(['ab', 'Cd']), mode='predict')
    assert out[0].img_embed.shape == (32, ) and out[1].caption == 'cd'
    torch.testing.assert_close(out[0].text_embed.norm(), torch.tensor(1.0))


@torch.no_grad()
def test_exported_weights_load_into_the_towers(tmp_path):
    clip = model().eval()
    clip.text.text.token_embedding.weight.normal_(0, 0.02)
    path = tmp_path / 'clip.safetensors'
    save_file(clip_state_dict(clip.state_dict()), str(path))
    vision = CLIPVisionBackbone(**VISION, pretrained=str(path)).eval()
    text = CLIPTextEncoder(**TEXT, pretrained=str(path)).eval()
    vision.init_weights()
    text.init_weights()
    images = torch.randn(3, 3, 16, 32)
    torch.testing.assert_close(vision(images)[:, 0], clip.encode_image(images, normalize=False))
    ids = text.tokenize(['hello', 'world', 'a4b'])
    eot = text(ids)[torch.arange(3), ids.argmax(-1)]
    torch.testing.assert_close(eot, clip.encode_text(ids, normalize=False))


def test_export_tool(tmp_path, monkeypatch, capsys):
    clip = model(caption_style='spelled')
    with torch.no_grad():
        clip.text.text.token_embedding.weight.normal_(0, 0.02)   # rows a warm start left
    ckpt = tmp_path / 'iter_1.pth'
    torch.save(dict(meta=dict(iter=1), state_dict=clip.state_dict()), str(ckpt))
    out = tmp_path / 'clip.safetensors'
    assert run_tool('export_clip.py', ckpt, out, '--token-rows', 'spelled',
                    monkeypatch=monkeypatch) == ''
    assert '"nonzero_token_rows": 38, "token_rows": 49408' in capsys.readouterr().out
    state = load_clip_state_dict(str(out))
    assert state['visual.proj'].dtype == torch.float16
    assert set(state) == set(clip_state_dict(clip.state_dict()))
    with safe_open(str(out), framework='pt') as f:     # the 38 rows only, dense when loaded
        assert len(f.get_tensor('token_embedding.weight.rows')) == 38
    assert state['token_embedding.weight'].shape == (49408, 32)
    assert int(state['token_embedding.weight'].ne(0).any(1).sum()) == 38
    assert run_tool('export_clip.py', ckpt, out, monkeypatch=monkeypatch) == \
        f'error: {out} already exists; pass --overwrite to replace it, or write elsewhere'
    assert run_tool('export_clip.py', ckpt, ckpt, '--overwrite', monkeypatch=monkeypatch) == \
        f'error: {ckpt} is also the input {ckpt}; write the output elsewhere'
    other = tmp_path / 'other.pth'
    torch.save(dict(state_dict=dict(weight=torch.zeros(2))), str(other))
    assert run_tool('export_clip.py', other, tmp_path / 'x.bin', monkeypatch=monkeypatch) == (
        f'error: {other} holds no ContrastiveCLIP weights (vision.visual.*, text.text.*): is it '
        'a checkpoint of configs/clip/?')


@torch.no_grad()
def test_clip_config_exports_into_the_broad_clip4str_config(tmp_path, monkeypatch):
    """The CLIP config's model, exported in fp16, is a ``clip_pretrained`` of the broad
    CLIP4STR config: same image embedding (first backbone token), same text tower."""
    from mmengine.config import Config
    clip = build_model(Config.fromfile(str(CONFIGS / 'clip' / 'clip-tiny_synth-broad.py')).model)
    clip.eval().text.text.token_embedding.weight.normal_(0, 0.02)
    path = tmp_path / 'clip.safetensors'
    save_file(clip_state_dict(clip.state_dict(), torch.float16), str(path))
    monkeypatch.setenv('CLIP_PRETRAINED', str(path))
    cfg = Config.fromfile(str(CONFIGS / 'clip4str' / 'clip4str-tiny_20min_synth-broad.py'))
    recognizer = build_model(cfg.model)
    recognizer.init_weights()
    recognizer.eval()
    assert recognizer.decoder.caption_style == clip.caption_style == 'spelled'
    clip.half().float()    # the file is fp16: compare with the rounded weights
    images = torch.randn(2, 3, 32, 128)
    torch.testing.assert_close(recognizer.backbone(images)[:, 0],
                               clip.encode_image(images, normalize=False))
    text = recognizer.decoder.text_encoder.text
    assert torch.equal(text.token_embedding.weight, clip.text.text.token_embedding.weight)
    assert torch.equal(text.text_projection, clip.text.text.text_projection)


@torch.no_grad()
def test_shipped_clip_is_the_broad_configs_default(monkeypatch):
    """assets/clip/clip_tiny_words.safetensors: fp16, spelled-caption token rows only, loaded
    into both towers of the broad CLIP4STR config by init_weights."""
    from mmengine.config import Config
    monkeypatch.delenv('CLIP_PRETRAINED', raising=False)
    shipped = load_clip_state_dict(str(ROOT / 'assets' / 'clip' / 'clip_tiny_words.safetensors'))
    assert shipped['visual.proj'].dtype == torch.float16
    rows = torch.nonzero(shipped['token_embedding.weight'].float().abs().sum(1)).flatten()
    assert len(rows) == 38     # start, end and the 36 characters of spelled captions
    recognizer = build_model(
        Config.fromfile(str(CONFIGS / 'clip4str' / 'clip4str-tiny_20min_synth-broad.py')).model)
    recognizer.init_weights()
    torch.testing.assert_close(recognizer.backbone.visual.conv1.weight,
                               shipped['visual.conv1.weight'].float())
    torch.testing.assert_close(recognizer.decoder.text_encoder.text.token_embedding.weight,
                               shipped['token_embedding.weight'].float())
