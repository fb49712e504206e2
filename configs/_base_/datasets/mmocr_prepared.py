# Recognition sets as MMOCR's dataset preparer writes them, next to the LMDB sets of
# str_lmdb.py: OCRDataset JSON (<root>/<name>/textrecog_train.json, textrecog_test.json, the
# crops beside them). In an MMOCR checkout, for example:
#   python tools/dataset_converters/prepare_dataset.py icdar2015 iiit5k svt --task textrecog
# The entries are MMOCR's own (mmocr::textrecog/_base_/datasets), under one root: set it here,
# or export MMOCR_DATA_ROOT=/path (MMOCR's default: data/ in the working directory).
# OCRDataset applies no label rules: a training pipeline adds STRLabelRules (rejected labels are
# counted and another sample is drawn); the STR metric applies the rules to test ground truth.
_base_ = [
    'mmocr::textrecog/_base_/datasets/icdar2013.py',
    'mmocr::textrecog/_base_/datasets/icdar2015.py',
    'mmocr::textrecog/_base_/datasets/iiit5k.py',
    'mmocr::textrecog/_base_/datasets/svt.py',
    'mmocr::textrecog/_base_/datasets/svtp.py',
    'mmocr::textrecog/_base_/datasets/cute80.py',
    'mmocr::textrecog/_base_/datasets/totaltext.py',
]
mmocr_data_root = '{{$MMOCR_DATA_ROOT:data}}'


def _under_root(dataset, folder):
    return dict(dataset, data_root=f'{mmocr_data_root}/{folder}')


# Real training crops: the benchmarks' train splits and Total-Text.
mmocr_real_train = [
    _under_root(_base_.icdar2013_textrecog_train, 'icdar2013'),
    _under_root(_base_.icdar2015_textrecog_train, 'icdar2015'),
    _under_root(_base_.iiit5k_textrecog_train, 'iiit5k'),
    _under_root(_base_.svt_textrecog_train, 'svt'),
    _under_root(_base_.svtp_textrecog_train, 'svtp'),
    _under_root(_base_.totaltext_textrecog_train, 'totaltext'),
]
# The papers' benchmarks by the names the STR protocol reports (str_lmdb.py's order).
mmocr_benchmark_tests = dict(
    IIIT5K=_under_root(_base_.iiit5k_textrecog_test, 'iiit5k'),
    SVT=_under_root(_base_.svt_textrecog_test, 'svt'),
    IC13_857=_under_root(_base_.icdar2013_857_textrecog_test, 'icdar2013'),
    IC13_1015=_under_root(_base_.icdar2013_textrecog_test, 'icdar2013'),
    IC15_1811=_under_root(_base_.icdar2015_1811_textrecog_test, 'icdar2015'),
    IC15_2077=_under_root(_base_.icdar2015_textrecog_test, 'icdar2015'),
    SVTP=_under_root(_base_.svtp_textrecog_test, 'svtp'),
    CUTE80=_under_root(_base_.cute80_textrecog_test, 'cute80'),
)
