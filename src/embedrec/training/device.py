"""Which torch device `auto` means: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch

from embedrec.errors import ModelError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ModelError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' asked for, but this torch build sees no CUDA GPU")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ModelError("device 'mps' asked for, but MPS is not available here")
    return resolved
