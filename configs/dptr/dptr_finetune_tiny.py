# DPTR fine-tuning at CPU scale (docs/dptr.md): a small ViT (32x128, 8x8 patches) from scratch,
# FMU and the decoder of dptr_pretrain_tiny.py, on rendered words. Set dptr_pretrained=None
# (--cfg-options model.decoder.pretrained=None) for the random-decoder baseline.
_base_ = ['../clip4str/clip4str_tiny_synth.py']

dptr_pretrained = 'work_dirs/dptr_pretrain_tiny/iter_1000.pth'
model = dict(
    _delete_=True,
    type='EncoderDecoderRecognizer',
    data_preprocessor=dict(type='TextRecogDataPreprocessor', mean=[127.5] * 3,
                           std=[127.5] * 3, bgr_to_rgb=True),
    backbone=dict(type='ViTBackbone', img_size=(32, 128), patch_size=(8, 8), embed_dim=128,
                  depth=3, num_heads=2),
    encoder=dict(type='FeatureMergeUnit', embed_dim=128, num_queries=26, num_heads=8,
                 dropout=0.0),
    decoder=dict(
        type='PARSeqRecDecoder',
        dictionary=_base_.dictionary,
        decoder=dict(embed_dim=128, depth=2, num_heads=8, mlp_ratio=4.0, dropout=0.0),
        module_loss=dict(type='PLMModuleLoss'),
        postprocessor=dict(type='PARSeqPostprocessor'),
        max_seq_len=25,
        num_perms=6,
        refine_iters=1,
        pretrained=dict(checkpoint=dptr_pretrained, prefix='decoder.decoder.')))
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
