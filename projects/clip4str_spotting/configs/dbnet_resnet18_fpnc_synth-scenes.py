# DBNet-R18 trained from scratch on rendered scenes (../tools/make_synth_scenes.py), sized for a
# CPU: 320 px crops, batch 8, iteration-based. No ImageNet weights can be downloaded here, so
# the backbone starts from random weights (init_cfg=None).
_base_ = ['mmocr::textdet/dbnet/dbnet_resnet18_fpnc_1200e_icdar2015.py']

# As MMOCR's projects: the project package is imported by its path from the repository root
# (tools/train.py and the project's tools put the root on sys.path); the mmcv._ext stand-in
# first, then the plugin, weights-only checkpoint loading, the project.
custom_imports = dict(imports=['clip4str_mmcv_lite', 'clip4str_plugin',
                               'clip4str_plugin.weights.safe_loading',
                               'projects.clip4str_spotting.clip4str_spotting'],
                      allow_failed_imports=False)
scene_root = '{{$SCENE_DATA_ROOT:data/synth_scenes}}'

model = dict(backbone=dict(init_cfg=None))

train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='LoadOCRAnnotations', with_polygon=True, with_bbox=True, with_label=True),
    dict(type='TorchVisionWrapper', op='ColorJitter', brightness=32.0 / 255, saturation=0.5),
    dict(type='ImgAugWrapper',
         args=[dict(cls='Affine', rotate=[-10, 10]), ['Resize', [0.7, 1.5]]]),
    dict(type='RandomCrop', min_side_ratio=0.3),
    dict(type='Resize', scale=(320, 320), keep_ratio=True),
    dict(type='Pad', size=(320, 320)),
    dict(type='PackTextDetInputs', meta_keys=('img_path', 'ori_shape', 'img_shape')),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='Resize', scale=(320, 320), keep_ratio=True),
    dict(type='LoadOCRAnnotations', with_polygon=True, with_bbox=True, with_label=True),
    dict(type='PackTextDetInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
_scenes = dict(type='OCRDataset', data_root=scene_root)
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_scenes, ann_file='textspotting_train.json', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_scenes, ann_file='textspotting_test.json', test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='HmeanIOUMetric')
test_evaluator = val_evaluator

max_iters = 1000
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=500)
optim_wrapper = dict(optimizer=dict(lr=0.007))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=1e-7, by_epoch=False,
                        end=max_iters)]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=500, by_epoch=False, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=8)
