# The tiny CLIP4STR of the main job on the broad rendering preset (synth/word_presets.py), started
# from the small CLIP trained here (configs/clip/clip-tiny_synth-broad.py, shipped as
# assets/clip/clip_tiny_words.safetensors) as the paper starts from OpenAI's, its two decoders
# from the DPTR decoder pre-trained here on text only
# (configs/dptr/dptr_pretrain_tiny_synth-broad.py, shipped as
# assets/dptr/dptr_decoder_tiny_broad.safetensors), and trained within a wall-clock budget
# (TimeBudgetHook). CLIP_PRETRAINED=none: random towers (from scratch); DPTR_DECODER=none: random
# decoders; or other files of these geometries.
#   python tools/main_job.py --preset broad     (renders the data, trains, evaluates)
_base_ = ['clip4str-tiny_3k_synth.py']

synth_data_root = '{{$BROAD_DATA_ROOT:data/broad}}'
clip_pretrained = '{{$CLIP_PRETRAINED:shipped}}'
clip_pretrained = ('{{ fileDirname }}/../../assets/clip/clip_tiny_words.safetensors'
                   if clip_pretrained == 'shipped' else
                   None if clip_pretrained.lower() in ('', 'none') else clip_pretrained)
dptr_decoder = '{{$DPTR_DECODER:shipped}}'
dptr_decoder = ('{{ fileDirname }}/../../assets/dptr/dptr_decoder_tiny_broad.safetensors'
                if dptr_decoder == 'shipped' else
                None if dptr_decoder.lower() in ('', 'none') else dptr_decoder)

# the shipped CLIP's text tower was trained on spelled captions (h e l l o): the cross branch
# writes its captions the same way. At this budget the two branches err on different words and
# neither reads clearly better: the answer is, per word, the more probable of the two readings
# (answer='confident'; the reference answers with the cross branch; docs/benchmarks.md, "Which
# branch answers")
# The pre-trained text tower stays frozen but for its final norm and projection (the reference
# freezes 6 of 12 blocks; both of 2 here): the same accuracy per iteration (1 500 / 4 300 fixed
# iterations: 55.05, 55.80 / 80.25 % of held-out words against 54.30, 56.35 / 79.00 %) at a
# cheaper fp32 step (AVX2 kernels: 231 -> 215 ms), so a budget trains more iterations
# (docs/benchmarks.md, "Which branch answers"). From random towers only the first block freezes.
model = dict(
    backbone=dict(pretrained=clip_pretrained),
    decoder=dict(caption_style='spelled', answer='confident',
                 text_encoder=dict(pretrained=clip_pretrained,
                                   freeze_nlayer=2 if clip_pretrained else 1)))

# peak learning rate 2e-3 for towers and decoders (clip4str-tiny_3k_synth.py: 1e-3). Fixed-length
# bf16 runs from the shipped CLIP and DPTR decoder read 3.2 / 10.6 / 10.4 / 8.8 % of the
# validation words after 1 000 iterations at 1e-3 / 2e-3 / 3e-3 / 4e-3 (0.6 % with the towers at
# 3e-4), and 26.6 / 40.4 % after 2 500 at 1e-3 / 2e-3 (docs/benchmarks.md, "Main job")
optim_wrapper = dict(optimizer=dict(lr=2e-3))

# custom_hooks.0: the time budget of training (tools/main_job.py sets budget_s and start_time; 16
# minutes by default); then the default runtime's ScheduleCheckHook. max_iters is an upper bound:
# the budget hook sets the count that fits, and the one-cycle schedule follows the elapsed
# fraction of the budget (one annealing, whatever the pace). Resuming such a run: --resume (the
# schedule goes on from its place in the cycle to the end of the new budget).
# custom_hooks.1: the decoders' start (DecoderTransferHook; None keeps them random, logged).
# short_run_lr: a machine that fits fewer than 4 300 iterations (fp32 on AVX2: about 1 500)
# trains at up to 1.5x the learning rate, (4300 / N) ** 0.4 (fixed-iteration runs of the scene
# job: 2e-3 / 3e-3 read 31.95 / 40.10 % of held-out words after 1 500 iterations, 79.00 / 69.80 %
# after 4 300; docs/benchmarks.md, "A slower machine").
custom_hooks = [dict(type='TimeBudgetHook', budget_s=16 * 60, warmup_iters=40, skip_iters=5,
                     reserve_s=20, recheck_s=60, probe_threads=(2, 1), reprobe_s=120,
                     short_run_lr=dict(full_iters=4300, power=0.4, max_scale=1.5)),
                dict(type='DecoderTransferHook', checkpoint=dptr_decoder)] + _base_.custom_hooks
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1, save_best=None))

_synth = dict(type='STRLMDBDataset', data_root=synth_data_root,
              max_label_length=_base_.max_label_length)
train_dataloader = dict(dataset=dict(data_root=synth_data_root))
val_dataloader = dict(dataset=dict(datasets=[
    dict(_synth, ann_file='val', name='broad-val', test_mode=True)]))
val_evaluator = dict(dataset_prefixes=['broad-val'])
# held-out words (test), the same words in held-out font faces (test_faces: DejaVu italic /
# oblique, STIX) and in held-out families (test_families: Lato, Arimo, Crimson Text, Libre
# Baskerville, DM Mono, Source Code Pro; PyPI packages of the synth extra); the word crops of
# a real photograph (test_photo: clip4str_plugin/datasets/photo_words.py)
broad_test_sets = \
    '{{$BROAD_TEST_SETS:test,test_faces,test_families,test_photo}}'.split(',')
test_sets = [dict(_synth, ann_file=name, name='broad-' + name.replace('_', '-'),
                  test_mode=True, charset=_base_.charset_94) for name in broad_test_sets]
test_dataloader = dict(dataset=dict(datasets=test_sets))
test_evaluator = dict(dataset_prefixes=[d['name'] for d in test_sets])
