# DPTR pre-training as the reference: the frozen text tower of CLIP ViT-B/16 (a 78 x 512 memory),
# its ORP bank, a 6-layer, 512-wide PARSeq decoder; the labels of Real's ArT LMDB (the
# reference config's corpus; dptr_pretrain_clip-b16_real.py: all of Real).
_base_ = ['_base_dptr_pretrain.py']

clip_pretrained = 'data/clip/ViT-B-16.pt'
orp_bank = 'data/orp/clip_vitb16_bank.safetensors'   # built by ORPBankHook when missing
embed_dim = 512
# the bank's image tower: CLIP ViT-B/16's, from the same CLIP file as the text tower
custom_hooks = [dict(
    _base_.orp_bank_hook, tower=dict(type='CLIPVisionBackbone', embed_dim=embed_dim,
                                     image_size=224, patch_size=16, width=768, layers=12,
                                     pretrained=clip_pretrained))] + _base_.custom_hooks
model = dict(
    backbone=dict(pretrained=clip_pretrained, embed_dim=embed_dim, width=512, layers=12),
    encoder=dict(bank=orp_bank),
    decoder=dict(decoder=dict(embed_dim=embed_dim, depth=6)))
