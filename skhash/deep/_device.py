"""Devices and numeric precision: where a deep hasher runs and in which float format."""

import re
from contextlib import contextmanager

import torch
from torch import nn

from ..index._backend import n_threads

__all__ = [
    "autocast_dtype",
    "channels_last_on",
    "onednn_unsafe_convolution",
    "resolve_device",
    "torch_threads",
]

_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")


def resolve_device(device):
    """The device a ``device`` parameter names, as a string such as ``"cuda:0"`` or ``"cpu"``.

    ``"auto"`` picks CUDA when available, else MPS (Apple GPUs), else the CPU; ``"cuda"``,
    ``"cuda:N"``, ``"mps"``, ``"cpu"`` and :class:`torch.device` objects name one. A device
    that is not there is a ``ValueError`` saying what is.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        raise ValueError(
            'device must be "auto", "cpu", "cuda", "cuda:N", "mps" or a torch.device; got '
            f"{device!r}."
        )
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if _mps_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was asked for, but CUDA is not available on this machine "
                f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}). Use "
                'device="cpu", or "auto" to pick CUDA only when present.'
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}, but only {torch.cuda.device_count()} CUDA device(s) exist."
            )
    if device == "mps" and not _mps_available():
        raise ValueError('device="mps" was asked for, but MPS is not available on this machine.')
    return device


def _mps_available():
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def autocast_dtype(precision, device):
    """The float type of automatic mixed precision for training on ``device``, or None.

    ``"auto"`` means bfloat16 on CUDA devices that support it, float16 on older CUDA devices
    (trained with a gradient scaler), and plain float32 elsewhere: CPU autocast is slower than
    float32 on most CPUs.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")
    kind = torch.device(device).type
    if precision == "float32":
        return None
    if precision == "auto":
        if kind != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if kind == "cpu" and precision == "float16":
        raise ValueError('precision="float16" needs a GPU; use "bfloat16" or "float32" on CPU.')
    return torch.bfloat16 if precision == "bfloat16" else torch.float16


# oneDNN's backward-weights pass of a strided 1x1 convolution over channels-last input writes
# past its scratch buffer when the convolution has fewer input channels than the kernel's
# channel block (8 on AVX2, 16 on AVX-512): heap corruption ("double free or corruption"),
# hangs, or silently wrong weight gradients (uxlfoundation/oneDNN#6035; seen with torch 2.13 /
# oneDNN 3.12 in ResNets of width < 16, whose projection shortcuts are such convolutions).
# Forward passes and every other layer are unaffected. 16 covers both blocks.
ONEDNN_CHANNEL_BLOCK = 16


def onednn_unsafe_convolution(network):
    """The first strided 1x1 convolution of ``network`` that oneDNN cannot train in
    channels-last memory on the CPU (fewer input channels per group than
    ``ONEDNN_CHANNEL_BLOCK``), or None."""
    for module in network.modules():
        if (
            isinstance(module, nn.Conv2d)
            and tuple(module.kernel_size) == (1, 1)
            and max(module.stride) > 1
            and module.in_channels // module.groups < ONEDNN_CHANNEL_BLOCK
        ):
            return module
    return None


def channels_last_on(device, network):
    """Whether ``network`` (a hashing network, or a bare backbone) runs in channels-last
    memory on ``device``.

    On CUDA, cuDNN's tensor-core kernels skip layout copies; on the CPU, oneDNN's convolutions
    do too (DSBH on 12,000 64x64 PNG files: training 266 -> 312 images/s, encoding 787 ->
    1,245 images/s, ``benchmarks/deep_streaming.py``). MPS keeps the default layout. Only
    built-in networks are known to be written for it (a user's module may call ``.view`` on
    feature maps). On the CPU, a network with a convolution oneDNN mistrains in that layout
    (:func:`onednn_unsafe_convolution`) keeps the default layout.
    """
    kind = torch.device(device).type
    backbone = getattr(network, "backbone", network)
    if kind not in ("cuda", "cpu") or not getattr(backbone, "channels_last_ok", False):
        return False
    return kind == "cuda" or onednn_unsafe_convolution(network) is None


@contextmanager
def torch_threads(n_jobs):
    """Run with ``n_jobs`` torch intra-op threads (joblib's meaning: -1 is every core), then
    restore the previous count; None changes nothing.

    CPU convolutions sum in an order that depends on the thread count, so a fixed count is
    what makes training reproducible across processes (a ``GridSearchCV(n_jobs=2)`` worker
    gets fewer threads than the main process).
    """
    if n_jobs is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads(n_jobs))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
