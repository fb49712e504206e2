# The scene CLIP4STR of the main job (clip4str-tiny_20min_synth-scene.py) with a fixed iteration
# budget instead of a wall-clock one, for the learning-rate experiments of docs/benchmarks.md
# ("A slower machine"): --cfg-options max_iters=N optim_wrapper.optimizer.lr=LR.
_base_ = ['clip4str-tiny_20min_synth-scene.py']

custom_hooks = _base_.custom_hooks[1:]   # without the TimeBudgetHook
