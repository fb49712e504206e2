# MMOCR's recognition runtime, plus this plugin.
_base_ = ['mmocr::textrecog/_base_/default_runtime.py']

custom_imports = dict(imports=['clip4str_mmcv_lite', 'clip4str_plugin',
                               'clip4str_plugin.weights.safe_loading'],
                      allow_failed_imports=False)
default_scope = 'mmocr'
