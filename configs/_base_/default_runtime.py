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
# A NaN or infinite loss stops training in one line (FiniteLossHook, before the checkpoint hook):
# no NaN checkpoint or decoder file is written; patience: how many such iterations in a row stop it.
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')),
                     finite_loss=dict(type='FiniteLossHook', patience=1))
# One visualizer per Runner, named after its experiment (MMEngine's default), instead of MMOCR's
# process-wide instance 'visualizer': a later Runner in the same process (a notebook, a test
# session) would otherwise draw and write its config into the first run's folder.
visualizer = dict(type='TextRecogLocalVisualizer', vis_backends=_base_.vis_backends,
                  _delete_=True)
