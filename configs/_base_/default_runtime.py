# MMOCR's recognition runtime, plus this plugin.
_base_ = ['mmocr::textrecog/_base_/default_runtime.py']

custom_imports = dict(imports=['clip4str_mmcv_lite', 'clip4str_plugin',
                               'clip4str_plugin.weights.safe_loading'],
                      allow_failed_imports=False)
default_scope = 'mmocr'
# Before the first iteration (after a resume): every one-cycle schedule must end with the loop;
# a resumed run whose length changed is refused unless resume_rescale=True (ScheduleCheckHook).
custom_hooks = [dict(type='ScheduleCheckHook')]
# Checkpoints are written crash-safe: to a temporary file, then renamed into place; the oldest is
# removed only once the next one is written (clip4str_plugin.engine.checkpoint_io).
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')))
