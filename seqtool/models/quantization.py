"""Lighter, faster models for inference: magnitude pruning and reduced-precision weights.

``seqtool compress`` writes a new model folder whose ``config.json`` has a ``"compression"``
section (``{"quantize": "none"|"bf16"|"int8", "prune": fraction, "from": original}``); every
loader goes through :func:`seqtool.store.weights.load_model_weights`, which calls :func:`load_compressed`
for such folders, so ``translate``, ``evaluate``, ``predict-next`` and ``generate`` use them like
any other model.

- **Pruning** zeroes the given fraction of smallest-magnitude entries of every weight matrix
  (Linear, embedding and recurrent matrices: all 2-D parameters), per matrix, in the stored
  weights: it is permanent, not a mask applied at run time.
- **bf16**: every tensor is stored as bfloat16 (half the file). At load, the Linear layers keep
  bf16 weights and run their matrix products in bf16 (AVX-512 BF16/AMX on recent x86 CPUs, tensor
  cores on GPUs); norms, softmax, recurrent cells and the beam scores stay in fp32.
- **int8**: weight matrices are stored as int8 with one fp32 scale per output row (symmetric,
  per-channel), everything else in fp32: about a quarter of the fp32 file. At load, Linear layers
  run torch's int8 weight-only matrix product (``torch._weight_int8pack_mm``, bf16 activations;
  the CPU kernel torch ships for weight-only int8 inference); other matrices are dequantized.

Why not ``torch.ao.quantization.quantize_dynamic`` or torchao: the former is deprecated (torch's
docs point to torchao); torchao 0.18's eager CPU int8 paths measured *slower* than fp32 here
(dynamic int8 2.4x slower, weight-only 1.3x slower on a 256x1024 layer; their speed comes with
``torch.compile``), so adding it as a dependency buys nothing for seqtool's CPU inference."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqtool.errors import SettingError

QUANTIZE = ("none", "bf16", "int8")


SCALE_SUFFIX = ".scale"  # int8 files: "<name>.scale" holds the per-row scales of "<name>"


@dataclass
class Compression:
    """The "compression" section of a compressed model's config.json."""

    quantize: str = "none"
    prune: float = 0.0

    def validate(self) -> None:
        if self.quantize not in QUANTIZE:
            raise SettingError(f"`quantize` must be one of {', '.join(QUANTIZE)}, got {self.quantize!r}")
        if not 0.0 <= self.prune < 1.0:
            raise SettingError(f"`prune` must be in [0, 1), got {self.prune}")


# ----- the int8 kernel: present in torch builds for x86/ARM CPUs and CUDA, checked at run time
INT8_KERNEL = "torch._weight_int8pack_mm"


@functools.cache
def int8_kernel_available() -> bool:
    """Whether this torch build runs the int8 weight-only matrix product (probed on a tiny case)."""
    kernel = getattr(torch, "_weight_int8pack_mm", None)
    if kernel is None:
        return False
    try:
        x = torch.ones(2, 64, dtype=torch.bfloat16)
        out = kernel(x, torch.ones(16, 64, dtype=torch.int8), torch.ones(16, dtype=torch.bfloat16))
        return bool(torch.allclose(out.float(), torch.full((2, 16), 64.0)))
    except (RuntimeError, NotImplementedError):
        return False


def require_int8() -> None:
    if not int8_kernel_available():
        raise SettingError(
            f"`quantize` int8 needs torch's int8 weight-only matmul ({INT8_KERNEL}), which this torch build or "
            f"platform lacks (torch {torch.__version__}); use `quantize` bf16"
        )


# ----- pruning and quantization of weight tensors
def weight_matrices(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every 2-D parameter (Linear, embedding, recurrent matrices), tied ones once, by state-dict name."""
    seen: set[int] = set()
    found = {}
    for name, p in model.state_dict(keep_vars=True).items():
        if p.dim() == 2 and p.is_floating_point() and id(p) not in seen:
            seen.add(id(p))
            found[name] = p
    return found


@torch.no_grad()
def prune_(model: nn.Module, amount: float) -> int:
    """Zero the ``amount`` fraction of smallest-magnitude entries of each weight matrix; returns how many."""
    zeroed = 0
    if amount <= 0:
        return 0
    for p in weight_matrices(model).values():
        k = int(amount * p.numel())
        if k == 0:
            continue
        threshold = p.abs().flatten().kthvalue(k).values
        mask = p.abs() > threshold
        p.mul_(mask)
        zeroed += int((~mask).sum())
    return zeroed


def quantize_rows(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8: ``w ~ q * scale[:, None]`` with q in [-127, 127]."""
    scale = w.float().abs().amax(dim=1).clamp(min=1e-12) / 127.0
    q = torch.round(w.float() / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q, scale


def compressed_tensors(model: nn.Module, quantize: str) -> dict[str, torch.Tensor]:
    """What goes into the compressed safetensors file (tied tensors stored once, under their first name)."""
    matrices = weight_matrices(model)
    seen: set[int] = set()
    out: dict[str, torch.Tensor] = {}
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) in seen:
            continue
        seen.add(id(t))
        t = t.detach().cpu()
        if quantize == "int8" and name in matrices:
            out[name], out[name + SCALE_SUFFIX] = quantize_rows(t)
        elif quantize == "bf16" and t.is_floating_point():
            out[name] = t.to(torch.bfloat16).contiguous()
        else:
            out[name] = t.float().contiguous() if t.is_floating_point() else t.contiguous()
    return out


# ----- inference modules
class BF16Linear(nn.Module):
    """A Linear layer whose matrix product runs in bf16; input and output keep their dtype."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.register_buffer("weight", linear.weight.detach().to(torch.bfloat16).contiguous())
        bias = linear.bias.detach().to(torch.bfloat16) if linear.bias is not None else None
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(torch.bfloat16), self.weight, self.bias).to(x.dtype)


class Int8Linear(nn.Module):
    """A Linear layer with int8 weights and per-row scales, run by torch's weight-only int8 kernel."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        q, scale = quantize_rows(linear.weight.detach())
        self.register_buffer("weight", q.contiguous())
        self.register_buffer("scale", scale.to(torch.bfloat16))
        bias = linear.bias.detach().float() if linear.bias is not None else None
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).to(torch.bfloat16).contiguous()
        out = torch._weight_int8pack_mm(flat, self.weight, self.scale).to(x.dtype)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], out.shape[-1])


def int8_supported(linear: nn.Linear) -> bool:
    # The CPU kernel reads the input in 16-element blocks: other widths crash it (measured on
    # torch 2.13), so those layers run the bf16 product on the dequantized weights instead.
    return linear.in_features % 16 == 0 and int8_kernel_available()


def apply_precision(model: nn.Module, quantize: str) -> nn.Module:
    """Replace every nn.Linear by its bf16 or int8 inference version (no-op for "none")."""
    if quantize == "none":
        return model
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                fast = Int8Linear(child) if quantize == "int8" and int8_supported(child) else BF16Linear(child)
                setattr(parent, child_name, fast)
    return model
