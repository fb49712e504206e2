# DPTR fine-tuning as the reference (OpenOCR's withdrawn dptr_parseq_finetune.yml): DPTR's
# recogniser (configs/_base_/models/parseq.py) on 32x128 images with PARSeq RandAugment on
# training images only (the withdrawn config also augmented eval: a bug); Real with 256 images
# per GPU, DPTR's 20-epoch schedule, validation after every epoch keeping the best checkpoint,
# the benchmark test sets. The configs set the widths and depths and the pre-trained decoder
# (custom_hooks: DecoderTransferHook with the decoder file of DPTR pre-training).
_base_ = ['../_base_/default_runtime.py', '../_base_/models/parseq.py',
          '../_base_/pipelines/stretch_resize.py', '../_base_/schedules/dptr_adamw_onecycle.py']

model = _base_.dptr_recognizer

input_size = _base_.stretch_32x128.input_size
train_pipeline = _base_.stretch_32x128.train_pipeline
test_pipeline = _base_.stretch_32x128.test_pipeline
train_dataloader = dict(
    _base_.str_train_loader, batch_size=256,
    dataset=dict(type='ConcatDataset', datasets=[_base_.real_train], pipeline=train_pipeline))
val_dataloader = dict(
    _base_.str_eval_loader, batch_size=256,
    dataset=dict(type='ConcatDataset', datasets=[_base_.val_set], pipeline=test_pipeline))
test_dataloader = dict(
    _base_.str_eval_loader, batch_size=256,
    dataset=dict(type='ConcatDataset', datasets=_base_.benchmark_tests, pipeline=test_pipeline))
val_evaluator = _base_.val_str_evaluator
test_evaluator = _base_.benchmark_evaluator
default_hooks = dict(checkpoint=_base_.best_checkpoint)
