# DPTR's schedule (OpenOCR dptr_parseq_pretrain.yml): the one-cycle AdamW of CLIP4STR with lr
# 1.485e-3, torch's betas and eps, no weight decay, one lr for every parameter and no lr scaling,
# 20 epochs; gradient clipping at 20, AMP with tools/train.py --amp.
_base_ = ['clip4str_adamw_onecycle.py']

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.485e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    clip_grad=dict(max_norm=20))
max_epochs = 20
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [dict(_base_.epoch_one_cycle, total_steps=max_epochs, anneal_strategy='cos')]
auto_scale_lr = dict(enable=False)
