# CLIP4STR-B trained on Real (3.3 M) as the reference: 16 epochs, total batch 1024 (8 GPUs x 128;
# the lr scales linearly with the total batch), AMP (--amp), validation on the benchmarks' train
# splits, the best checkpoint kept by the 36-character accuracy.
#   bash tools/dist_train.sh configs/clip4str/clip4str-b16_16e_real.py 8 --amp
_base_ = ['clip4str_b16.py', '_base_/schedules/adamw_onecycle.py']

max_epochs = 16
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='GroupOneCycleLR', total_steps=max_epochs, pct_start=0.075,
         anneal_strategy='cos', div_factor=25.0, final_div_factor=1e4, by_epoch=True,
         convert_to_iter_based=True),
]
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ConcatDataset', datasets=[_base_.real_train],
                 pipeline=_base_.train_pipeline))
val_dataloader = dict(
    batch_size=128,
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
