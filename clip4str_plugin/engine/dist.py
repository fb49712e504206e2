"""Multi-process runs without a GPU: MMEngine's ``init_dist`` always calls ``cuda.set_device``."""
import torch
import torch.distributed as torch_dist


def init_cpu_distributed(launcher: str) -> bool:
    """Start a gloo process group from torchrun's environment when there is no CUDA device.

    The Runner then finds the group initialised and skips its own (CUDA-only) set-up. Returns
    whether a group was started here; does nothing with a GPU, one process or an existing group.
    """
    if launcher != 'pytorch' or torch.cuda.is_available() or torch_dist.is_initialized():
        return False
    torch_dist.init_process_group(backend='gloo')
    return True
