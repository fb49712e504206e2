# CLIP4STR-B: CLIP ViT-B/16 (OpenAI WIT-400M or OpenCLIP DataComp-XL weights), 158 M parameters.
_base_ = ['_base_clip4str.py']

model = _base_.clip_vit_b16
