# Our extension: CLIP4STR-B whose visual and cross decoders both start from a DPTR text-only
# pre-trained decoder (configs/dptr/dptr_pretrain_clip4str-b16-decoder_art.py: same one-layer
# geometry).
_base_ = ['clip4str-b16_16e_real.py']

# written by dptr_pretrain_clip4str-b16-decoder_art.py's SaveDecoderHook (an MMEngine checkpoint
# works too)
dptr_pretrained = 'work_dirs/dptr_pretrain_clip4str-b16-decoder_art/decoder_pretrained.safetensors'
custom_hooks = [dict(type='DecoderTransferHook', checkpoint=dptr_pretrained),   # custom_hooks.0
                *_base_.custom_hooks]
