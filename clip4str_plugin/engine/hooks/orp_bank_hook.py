"""DPTR pre-training in one command: the ORP feature bank is built from the config when missing."""
import os.path as osp

from mmengine.dist import barrier, broadcast_object_list, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmocr.registry import HOOKS

from ...datasets.orp_bank import build_tower, describe_skips, extract_bank, list_images
from ...errors import DataError
from ...models.dptr.orp import ORPPerturbation
from ...orp_bank_file import (ORPBankError, bank_shape, bank_tower, check_bank, tower_fingerprint,
                              write_bank)


def memory_geometry(model):
    """``(tokens, width)`` of the memory ORP perturbs: FrozenCLIPTextMemory's ``(B, 78, D)``."""
    clip = getattr(model.backbone, 'clip', None)
    if clip is None or not hasattr(clip, 'text_length'):
        raise ORPBankError(f'ORPBankHook serves DPTR pre-training: the backbone must be '
                           f'FrozenCLIPTextMemory, not {type(model.backbone).__name__}')
    return clip.text_length + 1, clip.text.text_projection.shape[1]


@HOOKS.register_module()
class ORPBankHook(Hook):
    """Make sure ``model.encoder`` (:class:`ORPPerturbation`) has a bank that fits the model.

    In ``before_train``: when the bank file ``model.encoder.bank`` is missing, rank 0 builds it
    from every image below ``images`` with the CLIP image tower ``tower`` (a model config,
    e.g. ``dict(type='CLIPVisionBackbone', ..., pretrained=<CLIP file>)``), in batches with
    MMEngine's progress bar, and writes it fp16, atomically; the other ranks wait at a barrier
    and get rank 0's outcome (an error stops every rank). An existing bank is reused (never
    rebuilt) once its shape is checked: width D of the memory, at least as many tokens as the
    memory has, at least as many images as a batch; otherwise one line names the bank's shape,
    what is needed and how to rebuild it. A bank that records another tower than ``tower`` (the
    SHA-256 of its weights file; :func:`~...orp_bank_file.tower_fingerprint`) is refused
    the same way; one that records none (``.npy``, or written elsewhere) is reused with a
    warning. The bank is then loaded, and one that is not floating-point or holds NaN or
    infinite values is refused. Evaluation-only runs never build (ORP is off there).
    Under DDP the other ranks wait within the process group's timeout (``env_cfg.dist_cfg``,
    30 minutes by default): build a large bank beforehand (one process, or
    ``tools/extract_orp_bank.py``) or raise the timeout.

    Args:
        images: folder of natural images (searched recursively).
        tower: the CLIP image tower's config (its weights: ``pretrained``).
        batch_size: images per forward pass while building.
    """

    priority = 'VERY_HIGH'

    def __init__(self, images: str, tower: dict, batch_size: int = 32):
        self.images, self.tower, self.batch_size = images, dict(tower), batch_size

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        orp = getattr(model, 'encoder', None)
        if not isinstance(orp, ORPPerturbation):
            raise ORPBankError('ORPBankHook: model.encoder must be ORPPerturbation, not '
                               f'{type(orp).__name__}')
        tokens, width = memory_geometry(model)
        path = orp.bank_path
        outcome = [None]
        if is_main_process() and not osp.isfile(path):
            try:
                self._build(runner, path, device=next(model.parameters()).device)
            except Exception as err:  # noqa: BLE001  (the other ranks wait: tell them, then stop)
                if get_world_size() == 1:
                    raise
                outcome = [f'rank 0 could not build the ORP bank: {err}']
        barrier()
        broadcast_object_list(outcome)
        if outcome[0] is not None:
            raise ORPBankError(outcome[0])
        shape = bank_shape(path)
        rebuild = (f'; delete it and ORPBankHook rebuilds it from {self.images} with '
                   f'{self.tower.get("type")} (pretrained={self.tower.get("pretrained")}), or '
                   'set model.encoder.bank to a bank of this CLIP')
        check_bank(shape, path, tokens, width, runner.train_loop.dataloader.batch_size, rebuild)
        self._check_tower(runner, path, rebuild)
        orp.bank        # loaded now, its values checked (check_bank_values), not at step 1
        runner.logger.info(f'ORPBankHook: ORP bank {path} {shape} serves memories of {tokens} '
                           f'tokens of width {width}')

    def _check_tower(self, runner, path: str, rebuild: str) -> None:
        built_by, tower = bank_tower(path), tower_fingerprint(self.tower)
        if built_by is None:
            runner.logger.warning(f'ORPBankHook: ORP bank {path} does not record which image '
                                  'tower built it: reused as it is')
        elif built_by != tower:
            raise ORPBankError(f'ORP bank {path} was built by another image tower ({built_by}) '
                               f'than the config\'s ({tower}){rebuild}')

    def _build(self, runner, path: str, device) -> None:
        try:
            paths = list_images(self.images)
        except DataError as err:
            raise ORPBankError(f'{err}: the ORP bank {path} is missing and ORPBankHook builds it '
                               'from that folder; give a folder of natural images (ORP_IMAGES=... '
                               'in the DPTR configs, or --cfg-options custom_hooks.0.images=...) '
                               'or an existing bank') from None
        runner.logger.info(f'ORPBankHook: {path} is missing: building it from {len(paths)} '
                           f'images of {self.images} with {self.tower.get("type")} '
                           f'(pretrained={self.tower.get("pretrained")})')
        tower = build_tower(self.tower, runner.logger)
        bank, skipped = extract_bank(tower, paths, self.batch_size, device)
        write_bank(bank, path, tower=tower_fingerprint(self.tower))
        used = len(paths) - sum(map(len, skipped.values()))
        runner.logger.info(f'ORPBankHook: wrote {path}: {tuple(bank.shape)} fp16 from {used} '
                           f'images; {describe_skips(skipped)}')
