# The broad CLIP4STR (clip4str_tiny_broad.py, from the small CLIP) whose visual and cross decoders
# both start from the DPTR text-only pre-trained decoder of configs/dptr/dptr_pretrain_tiny_broad.py
# (same geometry), for the experiment in docs/experiments_issue10.md: a fixed iteration budget
# (--cfg-options max_iters=N; no time budget), the random-decoder arm being clip4str_tiny_broad.py
# with custom_hooks=[] and the same budget and seed.
_base_ = ['clip4str_tiny_broad.py']

dptr_pretrained = '{{$DPTR_DECODER:work_dirs/dptr_pretrain_tiny_broad/decoder_pretrained.safetensors}}'
custom_hooks = [dict(type='DecoderTransferHook', checkpoint=dptr_pretrained),   # custom_hooks.0
                *_base_.custom_hooks[1:]]                                      # no time budget
