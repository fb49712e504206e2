# CLIP4STR-H: OpenCLIP ViT-H/14 (LAION-2B or DFN-5B weights), 1.0 B parameters; its vision tower
# runs 20 heads of 64 dimensions (_base_clip4str.py).
_base_ = ['_base_clip4str.py']

model = _base_.clip_vit_h14
