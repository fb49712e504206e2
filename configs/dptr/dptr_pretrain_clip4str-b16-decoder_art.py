# Our extension: pre-train, with DPTR, the decoder geometry of CLIP4STR-B (one layer, 512 wide),
# so that both CLIP4STR decoders can start from it (clip4str-b16_dptr-init_16e_real.py).
_base_ = ['dptr_pretrain_clip-b16_art.py']

model = dict(decoder=dict(decoder=dict(depth=1)))
