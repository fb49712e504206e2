# CLIP4STR-B on the real crops of MMOCR's dataset preparer (OCRDataset JSON: the IC13, IC15,
# IIIT5K, SVT, SVTP train splits and Total-Text; configs/_base_/datasets/mmocr_prepared.py),
# tested on the eight benchmark sets in the same format. Otherwise the Real recipe: 16 epochs,
# the reference's schedule, 128 images per GPU. As in MMOCR's recipes, validation runs on the
# test sets (no best-checkpoint selection on them).
#   MMOCR_DATA_ROOT=/path/to/mmocr/data bash tools/dist_train.sh \
#       configs/clip4str/clip4str-b16_16e_mmocr-real.py 8 --amp
_base_ = ['_base_clip4str_train.py', '../_base_/datasets/mmocr_prepared.py']

model = _base_.clip_vit_b16

# OCRDataset gives file paths and raw labels: load the file, apply the reference's label rules
# (training only), then the LMDB recipes' steps after their loader.
_load = dict(type='LoadImageFromFile', ignore_empty=True, min_size=2)
_label_rules = dict(type='STRLabelRules', charset='94', max_label_length=_base_.max_label_length)
train_pipeline = [_load, _label_rules, *_base_.train_pipeline[1:]]
test_pipeline = [dict(type='LoadImageFromFile'), *_base_.test_pipeline[1:]]

train_dataloader = dict(
    dataset=dict(type='ConcatDataset', datasets=_base_.mmocr_real_train,
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type='ConcatDataset', datasets=list(_base_.mmocr_benchmark_tests.values()),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='WeightedMultiDatasetsEvaluator', metrics=_base_.str_metrics,
                     dataset_prefixes=list(_base_.mmocr_benchmark_tests.keys()))
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                                     save_best=None, _delete_=True))
