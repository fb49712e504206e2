"""DPTR against values recorded from OpenOCR's code (Topdu/OpenOCR, ``DptrParseq`` and its CLIP
transform) on small inputs. How each value was recorded is said next to it; the recording
scripts ran OpenOCR's functions (or the torchvision transforms it calls) outside this repo."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clip4str_plugin.datasets.orp_bank import clip_preprocess, cover_geometry

FIXTURES = Path(__file__).resolve().parents[2] / 'fixtures' / 'openocr_dptr'


def synthetic_image(w: int, h: int, mode: str) -> Image.Image:
    """The images the recording used: integer patterns, alpha for RGBA."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([(x * 7 + y * 3) % 256, (x * x + 5 * y) % 256, (x * y) % 256],
                   -1).astype(np.uint8)
    if mode == 'RGBA':
        alpha = ((x + y) * 2 % 256).astype(np.uint8)[..., None]
        return Image.fromarray(np.concatenate([rgb, alpha], -1), 'RGBA')
    return Image.fromarray(rgb, 'RGB').convert(mode)


@pytest.mark.parametrize('size, geometry', [
    ((333, 200), (372, 224, 74, 0)), ((201, 333), (224, 371, 0, 74)),
    ((640, 480), (298, 224, 37, 0)), ((224, 224), (224, 224, 0, 0))])
def test_cover_geometry_is_torchvision_resize_and_center_crop(size, geometry):
    """Recorded from torchvision 0.29 ``F.resize(img, 224, BICUBIC).size`` and CenterCrop's
    offsets ``int(round((side - 224) / 2.0))``: the long side is truncated (372.96 -> 372) and
    a half offset rounds to even (73.5 -> 74)."""
    assert cover_geometry(size, 224, 224) == geometry


@pytest.mark.parametrize('w, h, mode', [(333, 200, 'RGB'), (201, 333, 'RGB'), (640, 480, 'RGB'),
                                        (201, 333, 'L'), (333, 200, 'RGBA')])
def test_clip_preprocess_matches_the_reference_transform(w, h, mode):
    """clip_preprocess.npz holds, per image, OpenOCR's CLIP transform (``Compose([Resize(224,
    BICUBIC), CenterCrop(224), convert('RGB'), ToTensor(), Normalize(OpenAI mean, std)])``, as
    its ``_transform(224)`` builds it) of :func:`synthetic_image`: the pixels at rows 3::16,
    columns 5::16 and the per-channel sums. RGB conversion comes after the crop, as there (an
    RGBA image is resized with its alpha)."""
    recorded = np.load(FIXTURES / 'clip_preprocess.npz')
    out = clip_preprocess(synthetic_image(w, h, mode), 224, 224)
    key = f'{mode}_{w}x{h}'
    assert out.shape == (3, 224, 224)
    np.testing.assert_allclose(out[:, 3::16, 5::16].numpy(), recorded[key], rtol=0, atol=1e-6)
    np.testing.assert_allclose(out.double().sum((1, 2)).numpy(), recorded[key + '_sum'],
                               rtol=0, atol=1e-3)


def test_fmu_initialisation_is_the_references():
    """Recorded from OpenOCR's ``FMU(512, 8, 2048, 0.1)`` after ``DptrParseq._init_weights``
    (torch.manual_seed(0)): (mean, std) per weight, ours by name; the input projection is
    Xavier-uniform there (not a Linear: bound sqrt(6 / (512 + 1536)), recorded max 0.05413),
    every bias zero, the LayerNorm ones."""
    from clip4str_plugin.models.dptr.fmu import FeatureMergeUnit
    recorded = {
        'attn.in_proj_weight': (0.00002, 0.03124),
        'attn.out_proj.weight': (0.00006, 0.02001),
        'mlp.0.weight': (0.00003, 0.02001),               # reference linear1
        'mlp.3.weight': (0.00001, 0.01999),               # reference linear2
        'norm.weight': (1.0, 0.0)}
    torch.manual_seed(0)
    params = {k: v.detach() for k, v in FeatureMergeUnit().named_parameters()}
    for name, (mean, std) in recorded.items():
        assert abs(params[name].mean().item() - mean) < 1e-3, name
        assert abs(params[name].std().item() - std) < 1e-3, name
    assert params['attn.in_proj_weight'].abs().max() <= (6 / 2048) ** .5
    for name in ('attn.in_proj_bias', 'attn.out_proj.bias', 'mlp.0.bias', 'mlp.3.bias',
                 'norm.bias'):
        assert not params[name].any(), name


#: OpenOCR's ``DptrParseq.gen_tgt_perms`` for targets padded to 27 (torch.manual_seed(0)): six
#: orders over 25 characters whatever the labels' lengths.
OPENOCR_ORDERS = [
    list(range(27)), [0] + list(range(26, 0, -1)),
    [0, 20, 17, 7, 18, 6, 25, 12, 9, 15, 13, 22, 3, 16, 2, 23, 11, 14, 10, 8, 19, 4, 5, 21, 24,
     1, 26],
    [0, 1, 24, 21, 5, 4, 19, 8, 10, 14, 11, 23, 2, 16, 3, 22, 13, 15, 9, 12, 25, 6, 18, 7, 17,
     20, 26],
    [0, 25, 19, 10, 1, 20, 6, 24, 8, 12, 3, 21, 23, 16, 4, 13, 7, 2, 11, 17, 18, 22, 9, 15, 14,
     5, 26],
    [0, 5, 14, 15, 9, 22, 18, 17, 11, 2, 7, 13, 4, 16, 23, 21, 3, 12, 8, 24, 6, 20, 1, 10, 19,
     25, 26]]
#: Its ``generate_attn_masks`` of each order (1 = -inf), rows and columns 0..2: what a batch
#: whose longest label has 2 characters uses (content, query).
OPENOCR_MASKS_T2 = [
    ([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [[0, 1, 1], [0, 0, 1], [0, 0, 0]]),
    ([[0, 1, 1], [0, 0, 0], [0, 1, 0]], [[0, 1, 0], [0, 1, 1], [0, 1, 1]]),
    ([[0, 1, 1], [0, 0, 0], [0, 1, 0]], [[0, 1, 0], [0, 1, 1], [0, 1, 1]]),
    ([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [[0, 1, 1], [0, 0, 1], [0, 0, 0]]),
    ([[0, 1, 1], [0, 0, 1], [0, 0, 0]], [[0, 1, 1], [0, 0, 1], [0, 0, 1]]),
    ([[0, 1, 1], [0, 0, 0], [0, 1, 0]], [[0, 1, 0], [0, 1, 1], [0, 1, 0]])]


def test_padded_orders_cut_to_the_batch_give_openocrs_masks():
    from clip4str_plugin.models.parseq.permutations import cut_orders, permutation_masks
    content, query = permutation_masks(cut_orders(torch.tensor(OPENOCR_ORDERS), 2))
    assert content.int().tolist() == [c for c, _ in OPENOCR_MASKS_T2]
    assert query.int().tolist() == [q for _, q in OPENOCR_MASKS_T2]


def test_padded_orders_are_six_for_short_batches_and_follow_the_reference_layout():
    import numpy as np
    from clip4str_plugin.models.parseq.permutations import generate_permutations
    for num_chars in (1, 2, 7):
        perms = generate_permutations(num_chars, 6, np.random.default_rng(0), pad_to=25)
        assert perms.shape == (6, num_chars + 2)
        assert perms[0].tolist() == list(range(num_chars + 2))
        assert perms[1].tolist() == [0] + list(range(num_chars + 1, 0, -1))
        assert (perms[:, 0] == 0).all()
    assert generate_permutations(1, 6).shape == (1, 3)            # PARSeq / CLIP4STR: per batch
    with pytest.raises(ValueError, match='longer than pad_to=25'):
        generate_permutations(26, 6, pad_to=25)


def test_cut_orders_reproduce_the_padded_logits():
    """A PARSeq network on labels 'ab' and 'c': targets padded to 25 under OpenOCR's six orders
    vs the batch's 2 positions under the cut orders: the same logits where targets exist."""
    from clip4str_plugin.models.parseq.network import PARSeqNetwork
    from clip4str_plugin.models.parseq.permutations import cut_orders, permutation_masks
    torch.manual_seed(0)
    net = PARSeqNetwork(num_classes=5, vocab_size=7, bos_id=5, eos_id=0, max_length=26,
                        embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, dropout=0.1).eval()
    memory = torch.randn(2, 9, 32)

    def run(width, perms):
        tgt = torch.full((2, width), 6)
        tgt[0, :4], tgt[1, :3] = torch.tensor([5, 1, 2, 0]), torch.tensor([5, 3, 0])
        tokens = tgt[:, :-1]
        content, query = permutation_masks(perms)
        return net(tokens, memory, query, content, (tokens == 6) | (tokens == 0))

    full = run(27, torch.tensor(OPENOCR_ORDERS))
    cut = run(4, cut_orders(torch.tensor(OPENOCR_ORDERS), 2))
    torch.testing.assert_close(cut, full[:, :, :3], rtol=0, atol=1e-5)


@pytest.mark.parametrize('padded, orders', [(True, 6), (False, 1)])
def test_plm_loss_orders_of_a_batch_of_one_character_labels(padded, orders):
    from mmengine.structures import LabelData
    from mmocr.structures import TextRecogDataSample

    from clip4str_plugin.models.parseq.loss import PLMModuleLoss
    from conftest import DICT_94
    loss = PLMModuleLoss(dict(type='PARSeqDictionary', dict_file=DICT_94),
                         padded_orders=padded)
    samples = []
    for text in 'ab':
        sample = TextRecogDataSample()
        sample.gt_text = LabelData(item=text)
        samples.append(sample)
    batch = loss.plm_batch(samples, 6, 'cpu')
    assert batch.query_mask.shape == (orders, 2, 2) and batch.targets.shape == (orders, 2, 2)


#: OpenOCR's ORP mixing (``DptrParseq.training_step``: ``memory + noise * 1e-1`` with
#: ``noise = torch.from_numpy(fp16 bank rows)``) of memory = linspace(-3, 3, 24) and an fp16
#: bank linspace(-9.7, 11.3, 24), shape (2, 3, 4): the product rounds in fp16.
OPENOCR_ORP_FP32_MEMORY = [
    -3.97021484375, -3.6180367469787598, -3.2658586502075195, -2.9136803150177,
    -2.56101393699646, -2.2093241214752197, -1.85714590549469, -1.5047235488891602,
    -1.15266752243042, -0.8003672957420349, -0.4482501745223999, -0.09607201814651489,
    0.2561672329902649, 0.6083453893661499, 0.9602794051170349, 1.31270170211792,
    1.6648797988891602, 2.0168137550354004, 2.3689920902252197, 2.72117018699646,
    3.0738365650177, 3.4260149002075195, 3.7781929969787598, 4.1298828125]
OPENOCR_ORP_FP16_MEMORY = [
    -3.970703125, -3.6171875, -3.265625, -2.9140625, -2.560546875, -2.208984375, -1.857421875,
    -1.5048828125, -1.15234375, -0.80078125, -0.4482421875, -0.09613037109375, 0.25634765625,
    0.6083984375, 0.96044921875, 1.3125, 1.6650390625, 2.015625, 2.369140625, 2.720703125,
    3.07421875, 3.42578125, 3.77734375, 4.12890625]


@pytest.mark.parametrize('dtype, recorded', [(torch.float32, OPENOCR_ORP_FP32_MEMORY),
                                             (torch.float16, OPENOCR_ORP_FP16_MEMORY)])
def test_orp_mix_rounds_as_the_reference(dtype, recorded):
    from clip4str_plugin.models.dptr.orp import ORPPerturbation
    memory = torch.linspace(-3, 3, 24).reshape(2, 3, 4).to(dtype)
    noise = torch.from_numpy(np.linspace(-9.7, 11.3, 24).astype(np.float16).reshape(2, 3, 4))
    out = ORPPerturbation('unused.safetensors', weight=0.1).mix(memory, noise)
    assert out.dtype == dtype and out.flatten().tolist() == recorded      # bit for bit
    # mixing in fp32 would differ by up to 2e-4 here
    assert (out.float() - (memory.float() + 0.1 * noise.float())).abs().max() > 1e-4
