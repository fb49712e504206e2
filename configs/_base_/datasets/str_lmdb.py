# The standard scene-text LMDBs in the PARSeq / CLIP4STR layout (docs/datasets.md), the label
# rules every recipe shares, and how the reference recipes load and score these sets.
# One variable: the data root; set it here, or export STR_DATA_ROOT=/path/to/data.
str_data_root = '{{$STR_DATA_ROOT:data/str}}'

charset_94 = ('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
              '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')
charset_36 = '0123456789abcdefghijklmnopqrstuvwxyz'
# Longer labels are dropped from every set, and the decoders read at most this many characters.
max_label_length = 25

# Training sets: labels filtered to the 94 characters.
_train = dict(type='STRLMDBDataset', data_root=str_data_root, charset=charset_94,
              max_label_length=max_label_length, pipeline=[])
real_train = dict(_train, ann_file='train/real', name='Real')             # 3.3 M
mjst_train = dict(_train, ann_file='train/synth', name='MJ+ST')           # MJSynth + SynthText
union14m_train = dict(_train, ann_file='train/union14m_l', name='Union14M-L')
benchmark_train = dict(_train, ann_file='val', name='benchmark-train')   # IC13/IC15/IIIT/SVT train
# RBU (6.5 M) = Real + the benchmarks' train splits + Union14M-L
rbu_train = [real_train, benchmark_train, union14m_train]

# Evaluation sets: the reference protocol's 36 characters.
_test = dict(type='STRLMDBDataset', data_root=str_data_root, charset=charset_36,
             max_label_length=max_label_length, test_mode=True, pipeline=[])
# Validation as in the reference: the union of the benchmarks' train splits.
val_set = dict(_test, ann_file='val', name='val')
benchmark_test_paths = {
    'IIIT5K': 'test/IIIT5k', 'SVT': 'test/SVT', 'IC13_857': 'test/IC13_857',
    'IC13_1015': 'test/IC13_1015', 'IC15_1811': 'test/IC15_1811', 'IC15_2077': 'test/IC15_2077',
    'SVTP': 'test/SVTP', 'CUTE80': 'test/CUTE80',
}
new_test_paths = {'COCO-Text': 'test/COCOv1.4', 'ArT': 'test/ArT', 'Uber': 'test/Uber'}
union14m_test_paths = {
    f'Union14M-{name}': f'test/union14m_benchmark/{name}'
    for name in ('curve', 'multi_oriented', 'artistic', 'contextless', 'salient', 'multi_words',
                 'general')
}
benchmark_tests = [dict(_test, ann_file=p, name=n) for n, p in benchmark_test_paths.items()]
new_tests = [dict(_test, ann_file=p, name=n) for n, p in new_test_paths.items()]
union14m_tests = [dict(_test, ann_file=p, name=n) for n, p in union14m_test_paths.items()]

# Loader settings of the reference recipes; a config adds the batch size and the dataset.
str_train_loader = dict(num_workers=8, persistent_workers=True, drop_last=True,
                        sampler=dict(type='DefaultSampler', shuffle=True))
str_eval_loader = dict(num_workers=4, persistent_workers=False, drop_last=False,
                       sampler=dict(type='DefaultSampler', shuffle=False))

# Word metrics of MMOCR plus the reference protocol; 'average/...' weights sets by size.
str_metrics = [
    dict(type='STRBenchmarkMetric', charset='36'),
    dict(type='WordMetric', mode=['exact', 'ignore_case', 'ignore_case_symbol']),
    dict(type='CharMetric'),
    dict(type='OneMinusNEDMetric'),
]
benchmark_evaluator = dict(type='WeightedMultiDatasetsEvaluator', metrics=str_metrics,
                           dataset_prefixes=[d['name'] for d in benchmark_tests])
# Validation scores the protocol's 36-character accuracy and keeps the best checkpoint by it.
val_str_evaluator = dict(type='WeightedMultiDatasetsEvaluator',
                         metrics=[dict(type='STRBenchmarkMetric', charset='36')],
                         dataset_prefixes=['val'])
best_checkpoint = dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                       save_best='val/str/accuracy', rule='greater')
