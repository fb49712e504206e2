# CLIP4STR-L: CLIP ViT-L/14 (OpenAI WIT-400M or OpenCLIP DataComp-XL weights), 446 M parameters.
_base_ = ['_base_clip4str.py']

clip_pretrained = 'data/clip/ViT-L-14.pt'
embed_dim = 768
model = dict(
    backbone=dict(embed_dim=embed_dim, image_size=224, patch_size=14, width=1024, layers=24,
                  pretrained=clip_pretrained),
    decoder=dict(
        text_encoder=dict(embed_dim=embed_dim, width=768, layers=12, pretrained=clip_pretrained),
        decoder=dict(embed_dim=embed_dim)))
