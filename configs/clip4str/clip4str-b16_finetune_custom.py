# Fine-tune CLIP4STR-B on your own word crops (docs/finetune.md): your train / val / test LMDBs
# (tools/make_lmdb.py), starting from a converted official checkpoint
# (tools/convert_clip4str_ckpt.py), a fixed number of iterations at a fine-tuning learning rate,
# validation on your val set with the best checkpoint kept, the test on your test set.
#   CUSTOM_DATA_ROOT=data/my_words python tools/train.py \
#       configs/clip4str/clip4str-b16_finetune_custom.py --amp \
#       --cfg-options load_from=checkpoints/clip4str_b16_real.pth
_base_ = ['clip4str-b16_16e_real.py']

# ---- set these two: the folder holding train/, val/ and test/ (each an LMDB or a folder of
# LMDBs; export CUSTOM_DATA_ROOT=... or edit the default), and the checkpoint to start from.
custom_data_root = '{{$CUSTOM_DATA_ROOT:data/custom}}'
load_from = 'checkpoints/clip4str_b16_real.pth'

# The checkpoint holds both CLIP towers: no CLIP file is read.
model = dict(backbone=dict(pretrained=None), decoder=dict(text_encoder=dict(pretrained=None)))

_custom = dict(type='STRLMDBDataset', data_root=custom_data_root,
               max_label_length=_base_.max_label_length, pipeline=[])
custom_train = dict(_custom, ann_file='train', name='custom-train', charset=_base_.charset_94)
custom_val = dict(_custom, ann_file='val', name='custom-val', test_mode=True,
                  charset=_base_.charset_36)
custom_test = dict(_custom, ann_file='test', name='custom-test', test_mode=True,
                   charset=_base_.charset_36)

# The recipe's optimiser groups (CLIP towers at lr, decoders at 19x lr, weight decay 0.2), the
# lr used as written (no scaling by the batch): a tenth of the Real recipe's 8.4e-5, a starting
# point to tune. One-cycle over max_iters; validation and a checkpoint every val_interval.
optim_wrapper = dict(optimizer=dict(lr=8.4e-6))
auto_scale_lr = dict(enable=False)
max_iters = 3000
val_interval = 500
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=val_interval)
param_scheduler = [
    dict(type='GroupOneCycleLR', total_steps=max_iters, pct_start=0.075, by_epoch=False,
         anneal_strategy='cos', div_factor=25.0, final_div_factor=1e4),
]

train_dataloader = dict(
    batch_size=64, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(datasets=[custom_train]))
val_dataloader = dict(batch_size=64, dataset=dict(datasets=[custom_val]))
val_evaluator = dict(dataset_prefixes=['custom-val'])
test_dataloader = dict(dataset=dict(datasets=[custom_test]))
test_evaluator = dict(dataset_prefixes=['custom-test'])
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=val_interval, max_keep_ckpts=2,
                    save_best='custom-val/str/accuracy'),
    logger=dict(interval=50))
log_processor = dict(by_epoch=False)
