# CLIP4STR-H: OpenCLIP ViT-H/14 (LAION-2B or DFN-5B weights), 1.0 B parameters.
# The vision tower runs 20 heads of 64 dimensions, as the released checkpoints were trained
# (open_clip's own ViT-H-14 config uses 16 heads of 80).
_base_ = ['_base_clip4str.py']

clip_pretrained = 'data/clip/OpenCLIP-ViT-H-14-laion2B-s32B-b79K.bin'
embed_dim = 1024
model = dict(
    backbone=dict(embed_dim=embed_dim, image_size=224, patch_size=14, width=1280, layers=32,
                  heads=20, pretrained=clip_pretrained),
    decoder=dict(
        text_encoder=dict(embed_dim=embed_dim, width=1024, layers=24,
                          pretrained=clip_pretrained),
        decoder=dict(embed_dim=embed_dim)))
