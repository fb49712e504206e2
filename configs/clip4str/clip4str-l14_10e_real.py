# CLIP4STR-L on Real: 10 epochs, total batch 960 (4 GPUs x 48 x 5 accumulated, as the reference).
_base_ = ['_base_clip4str_train.py']

model = _base_.clip_vit_l14
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [dict(_base_.epoch_one_cycle, total_steps=max_epochs)]
train_dataloader = dict(batch_size=48)
optim_wrapper = dict(accumulative_counts=5)
auto_scale_lr = dict(base_batch_size=512 / 5)   # the lr follows the 960 samples per update
