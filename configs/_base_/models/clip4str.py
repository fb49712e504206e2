# The CLIP4STR model (arXiv 2305.14014) with CLIP ViT-B/16 towers (random weights), and the
# geometries of the released CLIPs as data: a config picks one with `model = _base_.clip_vit_l14`
# (configs/clip4str/clip4str-l14.py), merging its towers' sizes and CLIP file into this model.
_base_ = ['parseq.py']


def _clip(weights, embed_dim, vision, text):
    """The model keys of one CLIP: both towers, their weights file, the decoders' width."""
    return dict(backbone=dict(vision, embed_dim=embed_dim, image_size=224, pretrained=weights),
                decoder=dict(text_encoder=dict(text, embed_dim=embed_dim, pretrained=weights),
                             decoder=dict(embed_dim=embed_dim)))


# Local CLIP weights: OpenAI .pt, open_clip .bin or .safetensors (docs/model_zoo.md).
clip_vit_b16 = _clip('data/clip/ViT-B-16.pt', 512, dict(patch_size=16, width=768, layers=12),
                     dict(width=512, layers=12))
clip_vit_b32 = _clip('data/clip/ViT-B-32.pt', 512, dict(patch_size=32, width=768, layers=12),
                     dict(width=512, layers=12))
clip_vit_l14 = _clip('data/clip/ViT-L-14.pt', 768, dict(patch_size=14, width=1024, layers=24),
                     dict(width=768, layers=12))
# The H/14 vision tower runs 20 heads of 64 dimensions, as the released checkpoints were trained
# (open_clip's own ViT-H-14 config uses 16 heads of 80).
clip_vit_h14 = _clip('data/clip/OpenCLIP-ViT-H-14-laion2B-s32B-b79K.bin', 1024,
                     dict(patch_size=14, width=1280, layers=32, heads=20),
                     dict(width=1024, layers=24))

# OpenAI CLIP statistics in 0-255, used for training and validation by the reference; its test
# script uses mean = std = 0.5 instead (tools/test.py --reference-norm).
openai_mean = [122.770938, 116.7460125, 104.09373615]
openai_std = [68.5005327, 66.6321579, 70.32316305]

model = dict(
    type='EncoderDecoderRecognizer',
    data_preprocessor=dict(
        type='TextRecogDataPreprocessor', mean=openai_mean, std=openai_std, bgr_to_rgb=True),
    backbone=dict(clip_vit_b16['backbone'], type='CLIPVisionBackbone', act='quick_gelu',
                  freeze_nlayer=-1, pretrained=None),
    decoder=dict(
        _base_.parseq_head,
        type='CLIP4STRDecoder',
        text_encoder=dict(clip_vit_b16['decoder']['text_encoder'], type='CLIPTextEncoder',
                          context_length=77, text_length=16, act='quick_gelu', freeze_nlayer=6,
                          pretrained=None),
        decoder=dict(_base_.parseq_head.decoder, **clip_vit_b16['decoder']['decoder'], depth=1),
        module_loss=dict(type='PLMModuleLoss', cross_weight=1.0),
        decode_ar=True,
        image_detach=True))
