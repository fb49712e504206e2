# The main job: the tiny CLIP4STR trained from scratch on rendered words, on CPU, in minutes.
# Data: tools/make_synth_lmdb.py (see tools/run_main.sh); val / test words never occur in train.
_base_ = ['clip4str-tiny.py', '../_base_/schedules/clip4str_adamw_onecycle.py']

synth_data_root = '{{$SYNTH_DATA_ROOT:data/synth}}'

# Sized to train from scratch in under 20 minutes on 2 CPU cores (docs/benchmarks.md): a lighter
# image tower than clip4str-tiny (8x8 patches: 64 tokens, sine-cosine positions), decoders with
# 4 heads of 32 dimensions (instead of 8 of 16), no dropout, K=2 permutations (forward and
# reverse) instead of 6; otherwise the CLIP4STR model (both branches, refinement).
model = dict(
    backbone=dict(patch_size=(8, 8), width=128, layers=3, heads=2, pos_embed_init='sincos'),
    decoder=dict(decoder=dict(dropout=0.0, num_heads=4), num_perms=2))

# From scratch, not fine-tuning CLIP: one learning rate for everything, no auto scaling.
optim_wrapper = dict(
    optimizer=dict(lr=1e-3, weight_decay=0.0),
    paramwise_cfg=dict(decoder_lr_mult=1.0))
auto_scale_lr = dict(enable=False)
max_iters = 3000
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
param_scheduler = [
    dict(type='GroupOneCycleLR', total_steps=max_iters, pct_start=0.075, by_epoch=False),
]

# Keep the aspect ratio (height 32, right padding to 128) instead of the reference's stretch:
# a character's position then hardly depends on the word's length, which the decoders learn
# much sooner. The renderer already varies fonts, backgrounds and geometry; RandAugment (the
# reference's augmentation) would need a longer schedule than a CPU demo has.
demo_pipeline = [
    dict(type='LoadImageFromNDArray'),
    dict(type='CheckImageArray'),
    dict(type='RescaleToHeight', height=32, min_width=8, max_width=128, backend='pillow',
         interpolation='bicubic'),
    dict(type='PadToWidth', width=128),
    dict(type='LoadOCRAnnotations', with_text=True),
    dict(type='PackTextRecogInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'valid_ratio')),
]
_synth = dict(type='STRLMDBDataset', data_root=synth_data_root,
              max_label_length=_base_.max_label_length)
train_dataloader = dict(
    batch_size=64,
    num_workers=0,      # 2 cores: a loader process would compete with the training threads
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_synth, ann_file='train', name='synth-train', charset=_base_.charset_94,
                 pipeline=demo_pipeline))
val_dataloader = dict(
    _base_.str_eval_loader, batch_size=128, num_workers=0,
    dataset=dict(type='ConcatDataset', pipeline=demo_pipeline, datasets=[
        dict(_synth, ann_file='val', name='synth-val', test_mode=True)]))
val_evaluator = dict(_base_.val_str_evaluator, dataset_prefixes=['synth-val'])
test_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    # labels keep their case, so that MMOCR's WordMetric 'exact' means something; the protocol
    # metric applies the reference's 36-character rules itself
    dataset=dict(type='ConcatDataset', pipeline=demo_pipeline, datasets=[
        dict(_synth, ann_file='test', name='synth-test', test_mode=True,
             charset=_base_.charset_94)]))
# the answer (the cross branch) with MMOCR's metrics, plus the visual branch alone
test_evaluator = dict(
    metrics=_base_.str_metrics + [dict(type='STRBenchmarkMetric', charset='36',
                                       prefix='str-visual', pred_field='visual_pred_text')],
    dataset_prefixes=['synth-test'])

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False, max_keep_ckpts=2,
                    save_best='synth-val/str/accuracy', rule='greater'))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
