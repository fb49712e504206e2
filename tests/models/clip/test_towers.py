"""CLIP towers: shapes, options, freezing and loading weights from local files; the caption
styles a CLIP4STR decoder's cross branch feeds the text tower."""
import warnings

import open_clip
import pytest
import torch
from safetensors.torch import save_file

from clip4str_plugin.models.clip.towers import CLIPTextEncoder, CLIPVisionBackbone
from clip4str_plugin.weights.clip_weights import CLIPWeightsError, load_clip_state_dict
from conftest import tiny_model

GEOMETRY = dict(embed_dim=32, vision=dict(image_size=32, patch_size=8, width=64, layers=2),
                text=dict(context_length=77, vocab_size=49408, width=64, heads=1, layers=2))


def openai_clip():
    """A tiny open_clip CLIP: its state dict has the OpenAI key layout."""
    torch.manual_seed(0)
    return open_clip.model.CLIP(GEOMETRY['embed_dim'], GEOMETRY['vision'], GEOMETRY['text'],
                                quick_gelu=True).eval()


def towers(pretrained=None, **text_kwargs):
    vision = CLIPVisionBackbone(32, image_size=32, patch_size=8, width=64, layers=2,
                                pretrained=pretrained)
    text = CLIPTextEncoder(32, width=64, layers=2, heads=1, freeze_nlayer=1,
                           pretrained=pretrained, **text_kwargs)
    return vision.eval(), text.eval()


@pytest.fixture(scope='module')
def reference():
    model = openai_clip()
    return model, {k: v.clone() for k, v in model.state_dict().items()}


def write(fmt, state, model, path):
    if fmt == 'safetensors':
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    elif fmt == 'bin':
        torch.save(state, str(path))
    else:  # OpenAI-style TorchScript archive
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            traced = torch.jit.trace(model, (torch.randn(1, 3, 32, 32),
                                             torch.zeros(1, 77, dtype=torch.long)),
                                     check_trace=False)
        torch.jit.save(traced, str(path))


@pytest.mark.parametrize('fmt', ['pt', 'bin', 'safetensors'])
@torch.no_grad()
def test_loads_and_matches_open_clip(fmt, reference, tmp_path):
    model, state = reference
    path = tmp_path / f'clip.{fmt}'
    write(fmt, state, model, path)
    vision, text = towers(str(path))
    vision.init_weights()
    text.init_weights()
    for key, value in vision.visual.state_dict().items():
        assert torch.equal(value, state[f'visual.{key}'])
    images = torch.randn(2, 3, 32, 32)
    tokens = vision(images)
    assert tokens.shape == (2, 1 + 16, 32)
    # open_clip's pooled image feature is our CLS token
    assert torch.allclose(tokens[:, 0], model.encode_image(images), atol=1e-5)
    ids = open_clip.tokenize(['a photo of a cat', 'hello'])
    feats = text(ids)
    assert feats.shape == (2, 77, 32)
    eot = ids.argmax(-1)
    assert torch.allclose(feats[torch.arange(2), eot], model.encode_text(ids), atol=1e-5)
    # 16 tokens: positions and causal mask sliced, same values as the 77-token run
    short = text.tokenize(['hello'])
    assert short.shape == (1, 16)
    assert torch.allclose(text(short)[0, :3], text(ids[1:2])[0, :3], atol=1e-5)


def test_bad_files_give_clear_errors(reference, tmp_path):
    model, state = reference
    with pytest.raises(CLIPWeightsError, match='not found: .*absent.pt'):
        load_clip_state_dict(str(tmp_path / 'absent.pt'))
    good = tmp_path / 'clip.bin'
    torch.save(state, str(good))
    corrupt = tmp_path / 'corrupt.bin'
    corrupt.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    with pytest.raises(CLIPWeightsError, match='corrupt.bin: truncated'):
        load_clip_state_dict(str(corrupt))
    garbage = tmp_path / 'garbage.safetensors'
    garbage.write_bytes(b'\x00' * 100)
    with pytest.raises(CLIPWeightsError, match='garbage.safetensors'):
        load_clip_state_dict(str(garbage))
    # a file of another geometry: the error names the file and the keys
    other = CLIPVisionBackbone(32, image_size=32, patch_size=8, width=64, layers=3,
                               pretrained=str(good))
    with pytest.raises(CLIPWeightsError, match=r'clip.bin.*missing keys: visual.transformer'
                                               r'.resblocks.2'):
        other.init_weights()
    wide = CLIPVisionBackbone(48, image_size=32, patch_size=8, width=64, layers=2,
                              pretrained=str(good))
    with pytest.raises(CLIPWeightsError, match=r'shape mismatches: visual.proj \(64, 32\) vs '
                                               r'model \(64, 48\)'):
        wide.init_weights()


def test_options_and_freezing():
    vision = CLIPVisionBackbone(32, image_size=(32, 128), patch_size=(4, 8), width=64, layers=3,
                                heads=4, act='gelu', freeze_nlayer=2)
    assert vision(torch.randn(1, 3, 32, 128)).shape == (1, 1 + 8 * 16, 32)
    block = vision.visual.transformer.resblocks[0]
    assert block.attn.num_heads == 4 and isinstance(block.mlp.gelu, torch.nn.GELU)
    assert not vision.visual.class_embedding.requires_grad
    assert not block.mlp.c_fc.weight.requires_grad
    assert vision.visual.transformer.resblocks[2].mlp.c_fc.weight.requires_grad
    assert vision.visual.conv1.weight.requires_grad and vision.visual.proj.requires_grad
    vision.train()
    assert not block.training and vision.visual.transformer.resblocks[2].training
    default = CLIPVisionBackbone(32, image_size=32, patch_size=8, width=128, layers=1)
    assert default.visual.transformer.resblocks[0].attn.num_heads == 2   # width // 64
    assert isinstance(default.visual.transformer.resblocks[0].mlp.gelu,
                      open_clip.transformer.QuickGELU)
    with pytest.raises(ValueError, match='text_length'):
        CLIPTextEncoder(32, text_length=78)


def test_fp16_rounding(reference, tmp_path):
    model, state = reference
    path = tmp_path / 'clip.safetensors'
    write('safetensors', state, model, path)
    vision = CLIPVisionBackbone(32, image_size=32, patch_size=8, width=64, layers=2,
                                pretrained=str(path), round_to_fp16=True)
    vision.init_weights()
    assert torch.equal(vision.visual.proj, state['visual.proj'].half().float())
    assert not torch.equal(vision.visual.proj, state['visual.proj'])


def one_hot_logits(decoder, text):
    dic = decoder.dictionary
    ids = [dic.char2idx(c) for c in text] + [dic.end_idx]
    return torch.nn.functional.one_hot(torch.tensor([ids]), dic.num_classes - 2).float()


def test_plain_is_the_reference_caption_and_spelled_one_token_per_character():
    plain = tiny_model().decoder
    assert plain.caption_style == 'plain'
    assert plain.captions(one_hot_logits(plain, 'Hi-5x')) == ['hi5x']
    spelled = tiny_model(caption_style='spelled').decoder
    logits = one_hot_logits(spelled, 'Hi-5x')
    assert spelled.captions(logits) == ['h i 5 x']
    # SOT, one BPE token per character, EOT
    ids = spelled.text_encoder.tokenize(spelled.captions(logits))
    assert int((ids[0] > 0).sum()) == 2 + 4


def test_unknown_caption_style():
    with pytest.raises(ValueError, match="caption_style must be one of plain, spelled, not 'x'"):
        tiny_model(caption_style='x')
