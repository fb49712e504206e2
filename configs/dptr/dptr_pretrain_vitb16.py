# DPTR pre-training as the reference: the frozen text tower of CLIP ViT-B/16 (a 78 x 512 memory),
# its ORP bank, a 6-layer, 512-wide PARSeq decoder; labels of the Real training LMDBs.
_base_ = ['_base_dptr_pretrain.py']

clip_pretrained = 'data/clip/ViT-B-16.pt'
orp_bank = 'data/orp/clip_vitb16_bank.safetensors'   # tools/extract_orp_bank.py
embed_dim = 512
model = dict(
    backbone=dict(pretrained=clip_pretrained, embed_dim=embed_dim, width=512, layers=12),
    encoder=dict(bank=orp_bank),
    decoder=dict(decoder=dict(embed_dim=embed_dim, depth=6)))
