# The broad CLIP4STR (clip4str-tiny_20min_synth-broad.py: the small CLIP, decoders from the
# shipped DPTR decoder) with a fixed iteration budget instead of a wall-clock one, for the
# experiments in docs/benchmarks.md: --cfg-options max_iters=N; DPTR_DECODER=none for random
# decoders, CLIP_PRETRAINED=none for random towers.
_base_ = ['clip4str-tiny_20min_synth-broad.py']

custom_hooks = _base_.custom_hooks[1:]   # without the TimeBudgetHook
