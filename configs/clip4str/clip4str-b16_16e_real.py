# CLIP4STR-B trained on Real (3.3 M) as the reference: 16 epochs, total batch 1024 (8 GPUs x 128;
# the lr scales linearly with the total batch), AMP (--amp), validation on the benchmarks' train
# splits, the best checkpoint kept by the 36-character accuracy (_base_clip4str_train.py).
#   bash tools/dist_train.sh configs/clip4str/clip4str-b16_16e_real.py 8 --amp
_base_ = ['_base_clip4str_train.py']

model = _base_.clip_vit_b16
