# A small CLIP trained here on rendered words (the broad preset) with open_clip's ClipLoss: the
# image and text towers of the tiny CLIP4STR (configs/clip4str/clip4str-tiny_3k_synth.py, whose
# geometry, data preprocessor and image pipeline it takes), so that its weights load there as
# clip_pretrained (shipped: assets/clip/clip_tiny_words.safetensors; docs/benchmarks.md).
#   python tools/make_synth_lmdb.py data/broad_clip/train --num 150000 --seed 1 --preset broad
#   python tools/train.py configs/clip/clip-tiny_synth-broad.py
#   python tools/export_clip.py work_dirs/clip-tiny_synth-broad/best_retrieval_top1_iter_N.pth \
#       clip.safetensors --token-rows spelled
_base_ = ['../clip4str/clip4str-tiny_3k_synth.py']

broad_root = '{{$BROAD_DATA_ROOT:data/broad}}'
clip_train_root = '{{$CLIP_DATA_ROOT:data/broad_clip}}'

# CLIP4STR's cross branch feeds its text tower the lower-cased alphanumeric prediction: the
# tower is trained on that, spelled out (h e l l o: one BPE token per character), as the broad
# CLIP4STR config's decoder (caption_style='spelled') writes it
model = dict(
    _delete_=True,
    type='ContrastiveCLIP',
    vision=_base_.model.backbone,
    text=_base_.model.decoder.text_encoder,
    caption_style='spelled',
    zero_init_token_embedding=True,
    data_preprocessor=_base_.model.data_preprocessor)

_words = dict(type='STRLMDBDataset', max_label_length=_base_.max_label_length,
              charset='0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')
train_dataloader = dict(
    batch_size=128,
    dataset=dict(_delete_=True, type='ConcatDataset', pipeline=_base_.demo_pipeline, datasets=[
        dict(_words, data_root=clip_train_root, ann_file='train', name='clip-train'),
        dict(_words, data_root=broad_root, ann_file='train', name='broad-train')]))
# retrieval among the distinct held-out validation words (about 490 of 500 images)
_val_sets = [dict(_words, data_root=broad_root, ann_file='val', name='broad-val',
                  test_mode=True)]
val_dataloader = dict(batch_size=250, dataset=dict(datasets=_val_sets))
test_dataloader = dict(batch_size=250, dataset=dict(datasets=_val_sets))
val_evaluator = dict(_delete_=True, type='ZeroShotRetrievalMetric', topk=(1, 5),
                     min_candidates=100)
test_evaluator = val_evaluator

# AdamW as CLIP (betas 0.9 / 0.98, eps 1e-6), no decay on norms, biases, embeddings and the
# temperature; one-cycle with 5 % warm-up; the iteration count is set by the time budget
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, custom_keys={
        'token_embedding': dict(decay_mult=0.0),
        'positional_embedding': dict(decay_mult=0.0),
        'class_embedding': dict(decay_mult=0.0),
        'logit_scale': dict(decay_mult=0.0)}),
    clip_grad=dict(max_norm=5.0))
max_iters = 4000    # an upper bound: TimeBudgetHook sets the count that fits the budget
train_cfg = dict(max_iters=max_iters, val_interval=400)
param_scheduler = [
    dict(type='OneCycleLR', eta_max=1e-3, total_steps=max_iters, pct_start=0.05,
         anneal_strategy='cos', div_factor=25.0, final_div_factor=1e3, by_epoch=False),
]
# custom_hooks.0: the time budget (45 minutes); then the default runtime's ScheduleCheckHook
custom_hooks = [dict(type='TimeBudgetHook', budget_s=45 * 60, warmup_iters=30, reserve_s=30,
                     recheck_s=120)] + _base_.custom_hooks
default_hooks = dict(
    checkpoint=dict(interval=1000, max_keep_ckpts=2, save_best='retrieval/top1', rule='greater'))
