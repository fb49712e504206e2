# CLIP4STR-B/32 (the reference's ablation): CLIP ViT-B/32 (OpenAI WIT-400M), 159 M parameters.
_base_ = ['_base_clip4str.py']

clip_pretrained = 'data/clip/ViT-B-32.pt'
embed_dim = 512
model = dict(
    backbone=dict(embed_dim=embed_dim, image_size=224, patch_size=32, width=768, layers=12,
                  pretrained=clip_pretrained),
    decoder=dict(
        text_encoder=dict(embed_dim=embed_dim, width=512, layers=12, pretrained=clip_pretrained),
        decoder=dict(embed_dim=embed_dim)))
