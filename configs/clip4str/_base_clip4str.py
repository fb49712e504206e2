# CLIP4STR (arXiv 2305.14014): the model (../_base_/models/clip4str.py), its 224x224 pipelines
# and the benchmark test sets. The evaluation configs pick a released geometry
# (clip4str-b16.py: model = _base_.clip_vit_b16); the recipes add a training schedule and data.
_base_ = ['../_base_/default_runtime.py', '../_base_/models/clip4str.py',
          '../_base_/pipelines/stretch_resize.py']

input_size = _base_.stretch_224x224.input_size
train_pipeline = _base_.stretch_224x224.train_pipeline
test_pipeline = _base_.stretch_224x224.test_pipeline
test_dataloader = dict(
    _base_.str_eval_loader, batch_size=64, num_workers=2,
    dataset=dict(type='ConcatDataset', datasets=_base_.benchmark_tests, pipeline=test_pipeline))
test_evaluator = _base_.benchmark_evaluator
