# CLIP4STR-B on RBU (Real + benchmark train splits + Union14M-L, 6.5 M): 11 epochs, total batch
# 1024 (4 GPUs x 256). The reference used OpenCLIP DataComp-XL weights for this recipe.
_base_ = ['clip4str-b16_16e_real.py']

clip_pretrained = 'data/clip/OpenCLIP-ViT-B-16-DataComp-XL-s13B-b90K.bin'
model = dict(backbone=dict(pretrained=clip_pretrained),
             decoder=dict(text_encoder=dict(pretrained=clip_pretrained)))
max_epochs = 11
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [dict(_base_.epoch_one_cycle, total_steps=max_epochs)]
train_dataloader = dict(batch_size=256, dataset=dict(datasets=_base_.rbu_train))
