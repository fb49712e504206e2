# DPTR fine-tuning, the reference recipe: a ViT for 32x128 input with 4x8 patches (width 512,
# depth 12, 8 heads) trained from scratch, the Feature Merge Unit, and the 6-layer decoder of
# dptr_pretrain_clip-b16_art.py; 20 epochs on Real (_base_dptr_finetune.py).
_base_ = ['_base_dptr_finetune.py']

# written by dptr_pretrain_clip-b16_art.py's SaveDecoderHook (an MMEngine checkpoint works too)
dptr_pretrained = 'work_dirs/dptr_pretrain_clip-b16_art/decoder_pretrained.safetensors'
embed_dim = 512
model = dict(
    backbone=dict(patch_size=(4, 8), embed_dim=embed_dim, depth=12, num_heads=8),
    encoder=dict(embed_dim=embed_dim, dropout=0.1),
    decoder=dict(decoder=dict(embed_dim=embed_dim, depth=6)))
custom_hooks = [dict(type='DecoderTransferHook', checkpoint=dptr_pretrained),   # custom_hooks.0
                *_base_.custom_hooks]
