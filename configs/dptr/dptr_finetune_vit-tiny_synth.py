# DPTR fine-tuning at CPU scale (docs/dptr.md): DPTR's recogniser
# (configs/_base_/models/parseq.py) with a small ViT (8x8 patches) from scratch, the FMU and the
# decoder of dptr_pretrain_tiny_synth.py, trained on the main job's recipe (rendered words). The
# decoder starts from DPTR_DECODER (DecoderTransferHook); --cfg-options
# custom_hooks.0.checkpoint=None is the random-decoder baseline.
_base_ = ['../clip4str/clip4str-tiny_3k_synth.py']

# DPTR_DECODER, else the file the pre-training config writes into its default work dir
dptr_pretrained = '{{$DPTR_DECODER:pre-training}}'
dptr_pretrained = ('work_dirs/dptr_pretrain_tiny_synth/decoder_pretrained.safetensors'
                   if dptr_pretrained == 'pre-training' else dptr_pretrained)
_tiny = _base_.dptr_tiny
model = dict(   # replaces the CLIP4STR towers and decoder; the decoder of dptr_pretrain_tiny_synth
    _tiny, _delete_=True,
    decoder=dict(_tiny.decoder, decoder=dict(_tiny.decoder.decoder, depth=2)))
custom_hooks = [dict(type='DecoderTransferHook', checkpoint=dptr_pretrained),   # custom_hooks.0
                *_base_.custom_hooks]
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0),
                     clip_grad=dict(max_norm=20))
test_evaluator = dict(metrics=_base_.str_metrics)   # one branch: no visual_pred_text

# the budget of the experiment in docs/dptr.md: the same for both arms
max_iters = 800
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
param_scheduler = [dict(type='GroupOneCycleLR', total_steps=max_iters, pct_start=0.075,
                        by_epoch=False)]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False, max_keep_ckpts=1,
                    save_best=None))
