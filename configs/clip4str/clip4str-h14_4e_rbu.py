# CLIP4STR-H on RBU: 4 epochs, total batch 1024 (4 GPUs x 32 x 8 accumulated, as the reference).
_base_ = ['_base_clip4str_train.py']

model = _base_.clip_vit_h14
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [dict(_base_.epoch_one_cycle, total_steps=max_epochs)]
train_dataloader = dict(batch_size=32, dataset=dict(datasets=_base_.rbu_train))
val_dataloader = dict(batch_size=64)
optim_wrapper = dict(accumulative_counts=8)
auto_scale_lr = dict(base_batch_size=512 / 8)   # the lr follows the 1024 samples per update
