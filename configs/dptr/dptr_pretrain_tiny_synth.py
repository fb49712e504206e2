# DPTR pre-training at CPU scale, for tests and the experiment in docs/dptr.md: a tiny random
# CLIP text tower (no CLIP weights can be downloaded here) and a 2-layer, 128-wide decoder, on
# the labels of the rendered words; the ORP bank's "natural images" (ORP_IMAGES) go through the
# random image tower of configs/clip4str/clip4str-tiny.py (129 tokens of width 128).
_base_ = ['_base_dptr_pretrain.py']

synth_data_root = '{{$SYNTH_DATA_ROOT:data/synth}}'
orp_bank = '{{$ORP_BANK:data/orp/tiny_bank.safetensors}}'
embed_dim = 128
custom_hooks = [dict(
    _base_.orp_bank_hook, tower=dict(type='CLIPVisionBackbone', embed_dim=embed_dim,
                                     image_size=(32, 128), patch_size=(4, 8), width=192,
                                     layers=4, heads=3))] + _base_.custom_hooks
model = dict(
    backbone=dict(pretrained=None, embed_dim=embed_dim, width=128, layers=2, heads=2),
    encoder=dict(bank=orp_bank),
    decoder=dict(decoder=dict(embed_dim=embed_dim, depth=2, dropout=0.0)))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
max_iters = 1000
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=500)
param_scheduler = [dict(type='GroupOneCycleLR', total_steps=max_iters, pct_start=0.075,
                        by_epoch=False)]
_corpus = dict(_base_._corpus, data_root=synth_data_root)
train_dataloader = dict(
    batch_size=64, num_workers=1, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_corpus, ann_file='train', name='synth-train labels'))
val_dataloader = dict(
    batch_size=128, num_workers=1,
    dataset=dict(datasets=[dict(_corpus, ann_file='val', name='synth-val labels',
                                charset=_base_.charset_36)]))
test_dataloader = val_dataloader
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=500, by_epoch=False, max_keep_ckpts=1,
                    save_best=None))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
