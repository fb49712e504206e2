# CLIP4STR-H on RBU: 4 epochs, total batch 1024 (4 GPUs x 32 x 8 accumulated in the reference).
_base_ = ['clip4str_h14.py', '_base_/schedules/adamw_onecycle.py']

max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [dict(type='GroupOneCycleLR', total_steps=max_epochs, pct_start=0.075,
                        by_epoch=True, convert_to_iter_based=True)]
optim_wrapper = dict(accumulative_counts=8)
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ConcatDataset', datasets=_base_.rbu_train,
                 pipeline=_base_.train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ConcatDataset', datasets=[_base_.val_set],
                 pipeline=_base_.test_pipeline))
val_evaluator = dict(
    type='WeightedMultiDatasetsEvaluator',
    metrics=[dict(type='STRBenchmarkMetric', charset='36')],
    dataset_prefixes=['val'])
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='val/str/accuracy', rule='greater'))
auto_scale_lr = dict(enable=True, base_batch_size=512 / 8)
