# The main job of clip4str-tiny_20min_synth-broad.py (the small CLIP, decoders from the shipped
# DPTR decoder, a wall-clock budget) trained on broad words and scene-text crops together
# (synth/scene_renderer.py: photo backgrounds, font effects, curvature, perspective, neighbouring
# text, camera degradations), so that it reads photo-like crops too.
#   python tools/main_job.py --preset scene     (renders the data, trains, evaluates)
_base_ = ['clip4str-tiny_20min_synth-broad.py']

synth_data_root = '{{$SCENE_DATA_ROOT:data/scene_job}}'
_synth = dict(type='STRLMDBDataset', data_root=synth_data_root,
              max_label_length=_base_.max_label_length)

# train: broad words; train_scene: scene crops of other words (tools/main_job.py)
train_dataloader = dict(dataset=dict(
    _delete_=True, type='ConcatDataset', pipeline=_base_.demo_pipeline, datasets=[
        dict(_synth, ann_file=name, name='mix-' + name.replace('_', '-'),
             charset=_base_.charset_94) for name in ('train', 'train_scene')]))
val_dataloader = dict(dataset=dict(datasets=[
    dict(_synth, ann_file=name, name='mix-' + name.replace('_', '-'), test_mode=True)
    for name in ('val', 'val_scene')]))
val_evaluator = dict(dataset_prefixes=['mix-val', 'mix-val-scene'])
# held-out words as broad words (test), in held-out faces and families and as scene crops; the
# word crops of a real photograph (test_photo: clip4str_plugin/datasets/photo_words.py)
mix_test_sets = \
    '{{$SCENE_TEST_SETS:test,test_faces,test_families,test_scene,test_photo}}'.split(',')
test_sets = [dict(_synth, ann_file=name, name='mix-' + name.replace('_', '-'), test_mode=True,
                  charset=_base_.charset_94) for name in mix_test_sets]
test_dataloader = dict(dataset=dict(datasets=test_sets))
test_evaluator = dict(dataset_prefixes=[d['name'] for d in test_sets])
