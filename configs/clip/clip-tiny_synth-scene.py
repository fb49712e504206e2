# The small CLIP continued on scene-text crops (stage 2 of the shipped CLIP,
# assets/clip/clip_tiny_words.safetensors): the CLIP of clip-tiny_synth-broad.py (CLIP_START:
# stage 1's file: docs/benchmarks.md, "How the shipped CLIP and DPTR decoder were made")
# trained further with the same contrastive loss on
# rendered scene crops (photo backgrounds, font effects, perspective, curves, blur, JPEG: the
# scene preset, docs/synthetic_data.md) mixed with broad-preset words: 3 000 iterations of 128 at
# a 2e-4 peak (a gentle continuation; at 1e-3 the recognizer reads less from it). The scene job
# from it and from stage 1: docs/benchmarks.md, "A small CLIP continued on scene crops".
#   python tools/make_synth_lmdb.py data/scene_clip/train --num 40000 --seed 3 --preset scene
#   python tools/make_synth_lmdb.py data/scene_clip/val --split val --num 500 --seed 3 \
#       --preset scene
#   python tools/make_synth_lmdb.py data/broad_clip/train --num 40000 --seed 4 --preset broad
#   python tools/main_job.py --preset broad    # its data: data/broad_job (train, val)
#   BROAD_DATA_ROOT=data/broad_job CLIP_START=clip_broad.safetensors \
#       python tools/train.py configs/clip/clip-tiny_synth-scene.py --amp
#   python tools/export_clip.py work_dirs/clip-tiny_synth-scene/best_retrieval_top1_iter_N.pth \
#       clip.safetensors --token-rows spelled
_base_ = ['clip-tiny_synth-broad.py']

scene_root = '{{$SCENE_CLIP_ROOT:data/scene_clip}}'
start = '{{$CLIP_START:shipped}}'
start = ('{{ fileDirname }}/../../assets/clip/clip_tiny_words.safetensors'
         if start == 'shipped' else start)
model = dict(vision=dict(pretrained=start), text=dict(pretrained=start),
             zero_init_token_embedding=False)

_words = _base_._words
train_dataloader = dict(dataset=dict(datasets=[
    dict(_words, data_root=scene_root, ann_file='train', name='scene-train'),
    dict(_words, data_root=_base_.clip_train_root, ann_file='train', name='broad-train')]))
# retrieval among the distinct held-out validation words: scene crops while training (the best
# checkpoint), broad words at test (the shipped CLIP's measure, docs/benchmarks.md)
val_dataloader = dict(dataset=dict(datasets=[
    dict(_words, data_root=scene_root, ann_file='val', name='scene-val', test_mode=True)]))

# a continuation: short warm-up to a low peak, a fixed length (no time budget)
max_iters = 3000
optim_wrapper = dict(optimizer=dict(lr=2e-4))
param_scheduler = [dict(_base_.param_scheduler[0], eta_max=2e-4, pct_start=0.03,
                        total_steps=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=500)
custom_hooks = _base_.custom_hooks[1:]      # the broad config's, less its TimeBudgetHook
default_hooks = dict(checkpoint=dict(interval=500))
