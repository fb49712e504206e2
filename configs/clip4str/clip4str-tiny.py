# A small randomly initialised CLIP4STR for tests and CPU demos: 32x128 input, 4x8 patches.
_base_ = ['_base_clip4str.py']

embed_dim = 128
model = dict(
    backbone=dict(embed_dim=embed_dim, image_size=(32, 128), patch_size=(4, 8), width=192,
                  layers=4, heads=3),
    decoder=dict(
        text_encoder=dict(embed_dim=embed_dim, width=128, layers=2, heads=2, freeze_nlayer=1),
        decoder=dict(embed_dim=embed_dim, num_heads=8)))

input_size = _base_.stretch_32x128.input_size
train_pipeline = _base_.stretch_32x128.train_pipeline
test_pipeline = _base_.stretch_32x128.test_pipeline
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
