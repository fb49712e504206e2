# The reference's optimisation: AdamW (0.9, 0.98, eps 1e-6), weight decay 0.2, CLIP lr 8.4e-5 at
# batch 512 (scaled linearly with the total batch), the new modules at 19x, no decay for 1-D
# tensors and names with bn / ln / bias / logit_scale / pos_queries / text_embed, one-cycle with
# 7.5 % warm-up stepped per iteration, gradient clipping at 20. --amp switches to AMP.
# fused=True: one kernel per step for all tensors, the same update (torch 2.14 has it for CPU and
# CUDA, and MPS / XPU; on CPU, whose default is the per-tensor loop, 78 -> 18 ms per step for
# 28 M parameters: docs/benchmarks.md, "Recognition speed").
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=8.4e-5, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2,
                   fused=True),
    constructor='CLIP4STROptimWrapperConstructor',
    paramwise_cfg=dict(decoder_lr_mult=19.0, decoder_decay_mult=1.0),
    clip_grad=dict(max_norm=20))

max_epochs = 16
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# A recipe of N epochs sets max_epochs = N, train_cfg = dict(max_epochs=max_epochs) and
# param_scheduler = [dict(_base_.epoch_one_cycle, total_steps=max_epochs)].
epoch_one_cycle = dict(type='GroupOneCycleLR', pct_start=0.075, by_epoch=True,
                       convert_to_iter_based=True)
param_scheduler = [   # the cosine annealing and div factors are torch's defaults, spelled out
    dict(epoch_one_cycle, total_steps=max_epochs, anneal_strategy='cos', div_factor=25.0,
         final_div_factor=1e4),
]
auto_scale_lr = dict(enable=True, base_batch_size=512)
