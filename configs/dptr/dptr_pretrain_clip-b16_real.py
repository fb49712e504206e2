# DPTR pre-training as dptr_pretrain_clip-b16_art.py on a broader corpus: the labels of every Real
# training LMDB (train/real, 3.3 M labels) instead of the reference config's ArT alone.
_base_ = ['dptr_pretrain_clip-b16_art.py']

train_dataloader = dict(dataset=dict(ann_file='train/real', name='Real labels'))
