# CLIP4STR (arXiv 2305.14014): model, pipelines and the benchmark test sets.
# The variant files (clip4str_b16 / l14 / h14 / tiny) set the CLIP geometry and weights.
_base_ = ['../_base_/default_runtime.py', '_base_/datasets/str_lmdb.py']

# Local CLIP weights (OpenAI .pt, open_clip .bin or .safetensors); None = random init.
clip_pretrained = None

dictionary = dict(
    type='PARSeqDictionary',
    dict_file='{{ fileDirname }}/../../clip4str_plugin/dicts/charset_94.txt')

# OpenAI CLIP statistics in 0-255, used for training and validation by the reference; its test
# script uses mean = std = 0.5 instead (tools/test.py --reference-norm).
openai_mean = [122.770938, 116.7460125, 104.09373615]
openai_std = [68.5005327, 66.6321579, 70.32316305]

model = dict(
    type='EncoderDecoderRecognizer',
    data_preprocessor=dict(
        type='TextRecogDataPreprocessor', mean=openai_mean, std=openai_std, bgr_to_rgb=True),
    backbone=dict(
        type='CLIPVisionBackbone',
        embed_dim=512,
        image_size=224,
        patch_size=16,
        width=768,
        layers=12,
        act='quick_gelu',
        freeze_nlayer=-1,
        pretrained=clip_pretrained),
    decoder=dict(
        type='CLIP4STRDecoder',
        dictionary=dictionary,
        text_encoder=dict(
            type='CLIPTextEncoder',
            embed_dim=512,
            width=512,
            layers=12,
            context_length=77,
            text_length=16,
            act='quick_gelu',
            freeze_nlayer=6,
            pretrained=clip_pretrained),
        decoder=dict(embed_dim=512, depth=1, num_heads=8, mlp_ratio=4.0, dropout=0.1),
        module_loss=dict(type='PLMModuleLoss', cross_weight=1.0),
        postprocessor=dict(type='PARSeqPostprocessor'),
        max_seq_len=25,
        num_perms=6,
        decode_ar=True,
        refine_iters=1,
        image_detach=True))

# PIL bicubic resize to the model input without keeping the aspect ratio, as the reference.
input_size = (224, 224)  # (w, h)
train_pipeline = [
    dict(type='LoadImageFromNDArray'),
    dict(type='PARSeqRandAugment', num_ops=3, magnitude=5),
    dict(type='Resize', scale=input_size, keep_ratio=False, backend='pillow',
         interpolation='bicubic'),
    dict(type='LoadOCRAnnotations', with_text=True),
    dict(type='PackTextRecogInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'valid_ratio')),
]
test_pipeline = [
    dict(type='LoadImageFromNDArray'),
    dict(type='Resize', scale=input_size, keep_ratio=False, backend='pillow',
         interpolation='bicubic'),
    dict(type='LoadOCRAnnotations', with_text=True),
    dict(type='PackTextRecogInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'valid_ratio')),
]

# Word metrics of MMOCR plus the reference protocol; 'average/...' weights sets by size.
str_metrics = [
    dict(type='STRBenchmarkMetric', charset='36'),
    dict(type='WordMetric', mode=['exact', 'ignore_case', 'ignore_case_symbol']),
    dict(type='CharMetric'),
    dict(type='OneMinusNEDMetric'),
]
test_sets = _base_.benchmark_tests
test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ConcatDataset', datasets=test_sets, pipeline=test_pipeline))
test_evaluator = dict(
    type='WeightedMultiDatasetsEvaluator',
    metrics=str_metrics,
    dataset_prefixes=[d['name'] for d in test_sets])
