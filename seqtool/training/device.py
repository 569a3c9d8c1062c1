"""Where and in what precision training and inference run: device choice, bf16 autocast where it is fast."""

from __future__ import annotations

import functools
from typing import Any

import torch

from seqtool.errors import OptionError


@functools.lru_cache(maxsize=8)
def has_fast_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix products are fast here: GPUs that support bf16, and CPUs with AVX-512 BF16
    or AMX instructions (there bf16 matmuls run ~4x faster than fp32; elsewhere autocast only adds casts),
    unless torch was told to use less of the CPU (``ATEN_CPU_CAPABILITY=avx2``, as when an AVX-512 machine
    stands in for an AVX2 laptop): then bf16 is emulated, as on that laptop."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if not torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(device: torch.device, precision: str) -> str:
    if precision == "auto":
        return "bf16" if has_fast_bf16(device) else "fp32"
    return precision


def autocast(device: torch.device, precision: str) -> Any:
    enabled = resolve_precision(device, precision) == "bf16"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks a GPU when one is present."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise OptionError(f"--device must be auto, cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError("--device cuda: no CUDA GPU is available here; use --device cpu")
    return torch.device(device)
