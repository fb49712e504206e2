# CLIP4STR-L: CLIP ViT-L/14 (OpenAI WIT-400M or OpenCLIP DataComp-XL weights), 446 M parameters.
_base_ = ['_base_clip4str.py']

model = _base_.clip_vit_l14
