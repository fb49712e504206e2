# DPTR fine-tuning, the reference recipe (OpenOCR's withdrawn dptr_parseq_finetune.yml): a ViT
# for 32x128 input with 4x8 patches (width 512, depth 12, 8 heads) trained from scratch, the
# Feature Merge Unit, and the decoder of dptr_pretrain_vitb16.py. Normalisation 0.5 / 0.5,
# PARSeq RandAugment on training images only (the withdrawn config also augmented eval: a bug).
_base_ = ['../_base_/default_runtime.py', '../clip4str/_base_/datasets/str_lmdb.py',
          '_base_dptr_schedule.py']

dptr_pretrained = 'work_dirs/dptr_pretrain_vitb16/epoch_20.pth'

dictionary = dict(
    type='PARSeqDictionary',
    dict_file='{{ fileDirname }}/../../clip4str_plugin/dicts/charset_94.txt')
model = dict(
    type='EncoderDecoderRecognizer',
    data_preprocessor=dict(type='TextRecogDataPreprocessor', mean=[127.5] * 3,
                           std=[127.5] * 3, bgr_to_rgb=True),
    backbone=dict(type='ViTBackbone', img_size=(32, 128), patch_size=(4, 8), embed_dim=512,
                  depth=12, num_heads=8),
    encoder=dict(type='FeatureMergeUnit', embed_dim=512, num_queries=26, num_heads=8,
                 dropout=0.1),
    decoder=dict(
        type='PARSeqRecDecoder',
        dictionary=dictionary,
        decoder=dict(embed_dim=512, depth=6, num_heads=8, mlp_ratio=4.0, dropout=0.1),
        module_loss=dict(type='PLMModuleLoss'),
        postprocessor=dict(type='PARSeqPostprocessor'),
        max_seq_len=25,
        num_perms=6,
        refine_iters=1,
        pretrained=dict(checkpoint=dptr_pretrained, prefix='decoder.decoder.')))

input_size = (128, 32)
train_pipeline = [
    dict(type='LoadImageFromNDArray'),
    dict(type='PARSeqRandAugment', num_ops=3, magnitude=5),
    dict(type='Resize', scale=input_size, keep_ratio=False, backend='pillow',
         interpolation='bicubic'),
    dict(type='LoadOCRAnnotations', with_text=True),
    dict(type='PackTextRecogInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'valid_ratio')),
]
test_pipeline = [
    dict(type='LoadImageFromNDArray'),
    dict(type='Resize', scale=input_size, keep_ratio=False, backend='pillow',
         interpolation='bicubic'),
    dict(type='LoadOCRAnnotations', with_text=True),
    dict(type='PackTextRecogInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'valid_ratio')),
]
train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ConcatDataset', datasets=[_base_.real_train],
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ConcatDataset', datasets=[_base_.val_set], pipeline=test_pipeline))
val_evaluator = dict(
    type='WeightedMultiDatasetsEvaluator',
    metrics=[dict(type='STRBenchmarkMetric', charset='36')],
    dataset_prefixes=['val'])
test_dataloader = dict(
    batch_size=256,
    num_workers=4,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ConcatDataset', datasets=_base_.benchmark_tests,
                 pipeline=test_pipeline))
test_evaluator = dict(
    type='WeightedMultiDatasetsEvaluator',
    metrics=[dict(type='STRBenchmarkMetric', charset='36'),
             dict(type='WordMetric', mode=['exact', 'ignore_case', 'ignore_case_symbol']),
             dict(type='CharMetric'), dict(type='OneMinusNEDMetric')],
    dataset_prefixes=[d['name'] for d in _base_.benchmark_tests])
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='val/str/accuracy', rule='greater'))
auto_scale_lr = dict(enable=False, base_batch_size=512)
