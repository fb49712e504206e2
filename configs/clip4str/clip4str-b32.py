# CLIP4STR-B/32 (the reference's ablation): CLIP ViT-B/32 (OpenAI WIT-400M), 159 M parameters.
_base_ = ['_base_clip4str.py']

model = _base_.clip_vit_b32
