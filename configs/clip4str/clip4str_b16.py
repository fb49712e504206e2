# CLIP4STR-B: CLIP ViT-B/16 (OpenAI WIT-400M or OpenCLIP DataComp-XL weights), 158 M parameters.
_base_ = ['_base_clip4str.py']

clip_pretrained = 'data/clip/ViT-B-16.pt'
embed_dim = 512
model = dict(
    backbone=dict(embed_dim=embed_dim, image_size=224, patch_size=16, width=768, layers=12,
                  pretrained=clip_pretrained),
    decoder=dict(
        text_encoder=dict(embed_dim=embed_dim, width=512, layers=12, pretrained=clip_pretrained),
        decoder=dict(embed_dim=embed_dim)))
