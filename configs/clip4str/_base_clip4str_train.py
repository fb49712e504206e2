# CLIP4STR training as the reference: Real (3.3 M) with 128 images per GPU, the reference's
# one-cycle AdamW for 16 epochs (lr scaled linearly with the total batch), validation on the
# benchmarks' train splits after every epoch, the best checkpoint kept by the 36-character
# accuracy. The recipes (clip4str-*.py) set the geometry, and where they differ the data mix,
# the batch, gradient accumulation and the schedule's length.
_base_ = ['_base_clip4str.py', '../_base_/schedules/clip4str_adamw_onecycle.py']

train_dataloader = dict(
    _base_.str_train_loader, batch_size=128,
    dataset=dict(type='ConcatDataset', datasets=[_base_.real_train],
                 pipeline=_base_.train_pipeline))
val_dataloader = dict(
    _base_.str_eval_loader, batch_size=128,
    dataset=dict(type='ConcatDataset', datasets=[_base_.val_set], pipeline=_base_.test_pipeline))
val_evaluator = _base_.val_str_evaluator
default_hooks = dict(checkpoint=_base_.best_checkpoint)
