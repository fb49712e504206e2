# CLIP4STR-B on MJ+ST: 7 epochs, total batch 1024 (4 GPUs x 128 x 2 accumulated in the reference;
# here 8 x 128).
_base_ = ['clip4str-b16_16e_real.py']

max_epochs = 7
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [dict(_base_.epoch_one_cycle, total_steps=max_epochs)]
train_dataloader = dict(dataset=dict(datasets=[_base_.mjst_train]))
