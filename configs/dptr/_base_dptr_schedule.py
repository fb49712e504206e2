# DPTR's schedule (OpenOCR dptr_parseq_pretrain.yml): AdamW lr 1.485e-3, no weight decay, one
# lr for every parameter, one-cycle with 7.5 % warm-up stepped per iteration, gradient clipping
# at 20, AMP (tools/train.py --amp), 20 epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.485e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    clip_grad=dict(max_norm=20))
max_epochs = 20
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='GroupOneCycleLR', total_steps=max_epochs, pct_start=0.075,
         anneal_strategy='cos', by_epoch=True, convert_to_iter_based=True),
]
