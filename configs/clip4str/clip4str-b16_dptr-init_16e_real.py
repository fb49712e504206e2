# Our extension: CLIP4STR-B whose visual and cross decoders both start from a DPTR text-only
# pre-trained decoder (configs/dptr/dptr_pretrain_clip4str-b16.py: same one-layer geometry).
_base_ = ['clip4str-b16_16e_real.py']

dptr_pretrained = 'work_dirs/dptr_pretrain_clip4str-b16/epoch_20.pth'
model = dict(decoder=dict(
    pretrained=dict(checkpoint=dptr_pretrained, prefix='decoder.decoder.')))
