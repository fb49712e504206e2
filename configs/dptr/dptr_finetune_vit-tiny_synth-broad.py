# DPTR fine-tuning on the broad rendering preset (docs/benchmarks.md, "The papers' claims at CPU
# scale"): DPTR's recogniser (a ViT from scratch, the FMU, a PARSeq decoder) with the decoder
# geometry of clip4str-tiny_20min_synth-broad.py (1 layer, 4 heads of 32), on the broad preset's
# data and held-out test sets, a fixed iteration budget (no time budget). The decoder starts from
# DPTR_DECODER (dptr_pretrain_tiny_synth-broad.py's file); --cfg-options
# custom_hooks.0.checkpoint=None is the random-decoder baseline. A smaller labelled set:
# BROAD_TRAIN=<LMDB below the data root>.
_base_ = ['../clip4str/clip4str-tiny_20min_synth-broad.py']

# DPTR_DECODER, else the file the pre-training config writes into its default work dir
dptr_pretrained = '{{$DPTR_DECODER:pre-training}}'
dptr_pretrained = ('work_dirs/dptr_pretrain_tiny_synth-broad/decoder_pretrained.safetensors'
                   if dptr_pretrained == 'pre-training' else dptr_pretrained)
_tiny = _base_.dptr_tiny
model = dict(   # replaces the CLIP4STR towers and decoders; the decoder of the broad CLIP4STR
    _tiny, _delete_=True,
    decoder=dict(_tiny.decoder, num_perms=2, decoder=dict(_tiny.decoder.decoder, depth=1,
                                                          num_heads=4)))
# custom_hooks.0: this decoder's start; the base's time budget and CLIP4STR's decoder start dropped
custom_hooks = [dict(type='DecoderTransferHook', checkpoint=dptr_pretrained),
                *[hook for hook in _base_.custom_hooks
                  if hook['type'] not in ('TimeBudgetHook', 'DecoderTransferHook')]]
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0),
                     clip_grad=dict(max_norm=20))
train_dataloader = dict(dataset=dict(ann_file='{{$BROAD_TRAIN:train}}'))
test_evaluator = dict(metrics=_base_.str_metrics)   # one branch: no visual_pred_text
max_iters = 1000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='GroupOneCycleLR', total_steps=max_iters, pct_start=0.075,
                        by_epoch=False)]
