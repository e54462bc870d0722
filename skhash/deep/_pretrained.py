"""Loading pretrained backbone weights from a local file (nothing is ever downloaded)."""

import os

import torch
import torch.nn.functional as F

__all__ = ["load_pretrained"]


def _read_state_dict(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"pretrained must be None or a path to a weights file; got {path!r}.")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Pretrained weights file {os.fspath(path)!r} does not exist. Save the weights once "
            "on a machine that has them, e.g. torch.save(torchvision.models.resnet18("
            "weights='IMAGENET1K_V1').state_dict(), 'resnet18.pth'), and pass that path."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"Could not read {os.fspath(path)!r} as a PyTorch state_dict file: {exc}"
        ) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(
            f"{os.fspath(path)!r} does not hold a state_dict (a dict of tensors); got "
            f"{type(state).__name__}."
        )
    return {k.removeprefix("module."): v for k, v in state.items()}


def adapt_first_conv(weight, shape):
    """Fit a pretrained stem kernel to another input channel count and kernel size."""
    c_out, c_in, kh, kw = shape
    if weight.shape[1] != c_in:
        if c_in == 1:  # grey input: a grey image is R = G = B, so the RGB kernels add up
            weight = weight.sum(dim=1, keepdim=True)
        elif weight.shape[1] == 1:
            weight = weight.repeat(1, c_in, 1, 1) / c_in
        else:
            raise ValueError(
                f"The first convolution has {weight.shape[1]} input channels in the file but "
                f"the model takes {c_in}; only 1 <-> C channels are adapted."
            )
    if tuple(weight.shape[-2:]) != (kh, kw):  # e.g. the 7x7 ImageNet stem into a 3x3 one
        total = weight.sum(dim=(2, 3), keepdim=True)
        weight = F.interpolate(
            weight, size=(kh, kw), mode="bilinear", antialias=True, align_corners=False
        )
        new_total = weight.sum(dim=(2, 3), keepdim=True)
        scale = torch.where(new_total.abs() > 1e-12, total / new_total, torch.ones_like(total))
        weight = weight * scale
    return weight


def load_pretrained(model, path):
    """Load a ``state_dict`` file in ``model``'s own key layout (torchvision's, for the
    torchvision-layout backbones) into ``model``.

    Every key of ``model`` must be in the file with its shape, and every key of the file must
    be the model's, except those under ``model.pretrained_ignored`` (an ImageNet classifier,
    never used for hashing). The stem kernel (``model.first_conv``) is adapted to 1-channel
    input (the RGB kernels summed) and to a small-input stem (the kernel resized, its sum kept).

    Parameters
    ----------
    model : torch.nn.Module
    path : str or path-like
        A file written by ``torch.save(state_dict)`` (a checkpoint dict with a
        ``"state_dict"`` entry and ``module.`` prefixes of DataParallel are accepted).

    Returns
    -------
    model : torch.nn.Module
        The same model, with the weights loaded.

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a file.
    ValueError
        When the file is not a state_dict, or its keys or shapes do not match the model; the
        message names the file and the first differing keys.
    """
    state = _read_state_dict(path)
    ignored = tuple(getattr(model, "pretrained_ignored", ()))
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(ignored)}
    given = {k: v for k, v in state.items() if not k.startswith(ignored)}
    missing = sorted(set(own) - set(given))
    unexpected = sorted(set(given) - set(own))
    if missing or unexpected:
        raise ValueError(
            f"{os.fspath(path)!r} does not match the {type(model).__name__} backbone's keys: "
            f"{len(missing)} missing key(s) {missing[:5]}, {len(unexpected)} unexpected "
            f"key(s) {unexpected[:5]}."
        )
    first = getattr(model, "first_conv", None)
    if first is not None:
        given[first] = adapt_first_conv(given[first], own[first].shape)
    wrong = [
        f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in given.items()
        if v.shape != own[k].shape
    ]
    if wrong:
        raise ValueError(
            f"Shapes in {os.fspath(path)!r} do not match the model (a smaller width?): "
            + "; ".join(wrong[:5])
        )
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in given.items()}, strict=False)
    return model
