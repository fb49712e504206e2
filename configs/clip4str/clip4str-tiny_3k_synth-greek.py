# The tiny CLIP4STR of clip4str-tiny_3k_synth.py on rendered Greek words (docs/charsets.md).
# Data: tools/make_synth_lmdb.py DIR --words el (Greek words from wordfreq; val / test words
# never occur in train), under GREEK_DATA_ROOT (default data/greek).
_base_ = ['clip4str-tiny_3k_synth.py']

greek_data_root = '{{$GREEK_DATA_ROOT:data/greek}}'
# The output alphabet: 90 characters (Greek letters of both cases with tonos, dialytika and
# final sigma, digits, 11 punctuation marks), a shipped dictionary found by name.
greek = 'charset_greek.txt'
greek_dictionary = dict(type='PARSeqDictionary', dict_file=greek)
# Case-insensitive scoring, as the papers' 36 characters: the lower-case letters and digits.
greek_lower = '0123456789αβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώϊϋΐΰ'
# What the CLIP text tower reads: the Greek letters of both cases and the digits. CLIP's
# tokenizer lower-cases the whole caption (so a word-final capital sigma becomes 'ς') and reads
# UTF-8 bytes: two BPE tokens per Greek letter, so 12 letters need 26 positions (SOT, EOT).
greek_caption = '0123456789αβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώϊϋΐΰ' \
    'ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩΆΈΉΊΌΎΏΪΫ'
model = dict(decoder=dict(dictionary=greek_dictionary, text_charset=greek_caption,
                          text_encoder=dict(text_length=26)))

# Labels kept as Unicode (composed), not folded to ASCII, and checked against the dictionary.
_greek = dict(type='STRLMDBDataset', data_root=greek_data_root, charset=greek,
              label_folding='nfc', max_label_length=_base_.max_label_length)
train_dataloader = dict(dataset=dict(_greek, ann_file='train', name='greek-train',
                                     dictionary=greek_dictionary))
val_dataloader = dict(dataset=dict(datasets=[
    dict(_greek, ann_file='val', name='greek-val', test_mode=True)]))
test_dataloader = dict(dataset=dict(datasets=[
    dict(_greek, ann_file='test', name='greek-test', test_mode=True)]))

_protocol = dict(type='STRBenchmarkMetric', charset=greek_lower, label_folding='nfc')
val_evaluator = dict(metrics=[_protocol], dataset_prefixes=['greek-val'])
# MMOCR's WordMetric 'ignore_case_symbol', CharMetric and OneMinusNEDMetric keep only Latin
# letters, digits and CJK: on Greek they would score empty strings, so they are left out.
test_evaluator = dict(
    _delete_=True, type='WeightedMultiDatasetsEvaluator', dataset_prefixes=['greek-test'],
    metrics=[_protocol,
             dict(_protocol, charset=greek, prefix='str-cased'),
             dict(_protocol, prefix='str-visual', pred_field='visual_pred_text'),
             dict(type='WordMetric', mode=['exact', 'ignore_case'])])
default_hooks = dict(checkpoint=dict(save_best='greek-val/str/accuracy'))
