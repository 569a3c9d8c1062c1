"""Every weight and checkpoint file: safetensors save/load with header validation, int8/bf16 compressed
weights, plain-tensor training checkpoints, and loading a trained model folder's weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqtool.errors import OptionError, WorkspaceError, one_line
from seqtool.files import atomic_path
from seqtool.models.base import SequenceModel
from seqtool.models.quantization import SCALE_SUFFIX, Compression, apply_precision, compressed_tensors, weight_matrices
from seqtool.store.workspace import ModelDir


def save_weights(model: SequenceModel, path: Any) -> None:
    """Weights as safetensors (tied parameters stored once), written atomically."""
    from safetensors.torch import save_model

    with atomic_path(path) as tmp:
        save_model(model, str(tmp))


def load_weights(model: SequenceModel, path: Any) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    from seqtool.store.weights import check_weights

    check_weights(path, model)  # names and shapes from the header first: a clear one-line mismatch
    try:
        missing, unexpected = load_model(model, str(path), strict=False)
    except (SafetensorError, OSError, RuntimeError) as e:
        raise WorkspaceError(f"{path}: cannot load weights ({one_line(e)})") from None
    if missing or unexpected:
        raise WorkspaceError(
            f"{path}: weights do not match the model config (missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]})"
        )


# What every checkpoint holds (later additions are read with defaults; see Trainer.load_checkpoint).
CHECKPOINT_KEYS = (
    "model", "optimizer", "step", "epoch", "batch_in_epoch", "elapsed", "tokens", "best", "bad_epochs", "lr_scale",
    "torch_rng",
)  # fmt: skip


def safe_load_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """Load a training checkpoint without running code from it.

    ``weights_only=True`` restricts unpickling to tensors and plain containers, so a file
    crafted to run code (a ``__reduce__`` payload) is refused before anything executes.
    """
    import pickle
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols: noise here
            state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message is a paragraph; the line naming the refused object is the useful part.
        lines = [line.strip() for line in str(e).splitlines()]
        detail = next((line for line in lines if "unsupported" in line.lower()), one_line(e))
        raise WorkspaceError(
            f"{path}: refusing to load: not a plain-tensor checkpoint, it asks to run or build other objects "
            f"({one_line(detail, 120)}); seqtool never writes such files. Delete it to restart the run"
        ) from None
    except Exception as e:  # noqa: BLE001 - torch raises many kinds; all mean "not a usable checkpoint"
        raise WorkspaceError(f"{path}: not a readable checkpoint ({type(e).__name__}: {one_line(e)})") from None
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise WorkspaceError(f"{path}: not a seqtool checkpoint (missing {', '.join(missing[:3])})")
    return state


def load_model_weights(md: ModelDir, model: SequenceModel, device: torch.device, fp32: bool = False) -> SequenceModel:
    """The folder's weights into ``model``; a compressed folder's run on its reduced-precision kernels,
    unless ``fp32`` (plain fp32 modules holding the dequantized weights: what an export converts)."""
    from seqtool.store.weights import load_weights

    if not md.weights_path.exists():
        raise WorkspaceError(
            f"model {md.name!r} has no weights yet ({md.weights_path} missing): training has not finished an "
            "evaluation; resume it with --resume"
        )
    # A `seqtool compress`ed folder stores int8/bf16 weights and runs reduced-precision kernels.
    from seqtool.store.weights import compression_of, load_compressed

    compression = compression_of(md.config(), md)
    if compression is not None:
        load_compressed(model, md.weights_path, compression, kernels=not fp32)
    else:
        load_weights(model, md.weights_path)
    return model.to(device).eval()


def compression_of(cfg: dict[str, Any], md: ModelDir) -> Compression | None:
    """The compression recorded in a model's config, checked; None for an ordinary model."""
    section = cfg.get("compression")
    if section is None:
        return None
    if not isinstance(section, dict):
        raise WorkspaceError(f"{md.config_path}: 'compression' must be a JSON object")
    try:
        comp = Compression(quantize=section.get("quantize", "none"), prune=float(section.get("prune", 0.0)))
        comp.validate()
    except (OptionError, TypeError, ValueError) as e:
        raise WorkspaceError(f"{md.config_path}: invalid 'compression' section ({e})") from None
    return comp


def save_compressed(model: nn.Module, path: Path, quantize: str) -> None:
    from safetensors.torch import save_file

    tensors = compressed_tensors(model, quantize)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"seqtool_quantize": quantize})


def check_compressed(path: Path, model: nn.Module, comp: Compression) -> None:
    """The file's header must describe ``model`` in the recorded format (names, shapes, dtypes)."""
    from safetensors import SafetensorError, safe_open

    from seqtool.errors import one_line

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:  # the JSON header only
            stored = {key: (tuple(f.get_slice(key).get_shape()), f.get_slice(key).get_dtype()) for key in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as e:
        raise WorkspaceError(f"{path}: not a readable safetensors file ({one_line(e)})") from None
    expected = compressed_tensors_spec(model, comp.quantize)
    for name, (shape, dtype) in expected.items():
        if name not in stored:
            raise WorkspaceError(f"{path}: tensor {name} is missing ({comp.quantize} model in config.json)")
        if stored[name] != (shape, dtype):
            raise WorkspaceError(
                f"{path}: tensor {name} is {stored[name][1]} {list(stored[name][0])}, the {comp.quantize} model in "
                f"config.json needs {dtype} {list(shape)}"
            )
    unexpected = sorted(set(stored) - set(expected))
    if unexpected:
        raise WorkspaceError(f"{path}: unexpected tensors {', '.join(unexpected[:3])} (not in the model config)")


def compressed_tensors_spec(model: nn.Module, quantize: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """Names, shapes and safetensors dtype names of :func:`compressed_tensors`, without touching data
    (works on a meta-device model)."""
    matrices = weight_matrices(model)
    names = {torch.int8: "I8", torch.bfloat16: "BF16", torch.float32: "F32", torch.int64: "I64"}
    seen: set[int] = set()
    spec = {}
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) in seen:
            continue
        seen.add(id(t))
        shape = tuple(t.shape)
        if quantize == "int8" and name in matrices:
            spec[name], spec[name + SCALE_SUFFIX] = (shape, "I8"), ((shape[0],), "F32")
        elif t.is_floating_point():
            spec[name] = (shape, "BF16" if quantize == "bf16" else "F32")
        else:
            spec[name] = (shape, names.get(t.dtype, str(t.dtype)))
    return spec


def load_compressed(model: nn.Module, path: Path, comp: Compression, kernels: bool = True) -> nn.Module:
    """Fill ``model`` (fp32, CPU) from a compressed file, then switch its Linear layers to the
    reduced-precision kernels. Returns the model (modules are replaced in place)."""
    from safetensors.torch import load_file

    check_compressed(path, model, comp)
    stored = load_file(str(path), device="cpu")
    groups: dict[int, list[str]] = {}
    for name, t in model.state_dict(keep_vars=True).items():
        groups.setdefault(id(t), []).append(name)
    state = {}
    for names in groups.values():
        key = next(n for n in names if n in stored)
        t = stored[key]
        if key + SCALE_SUFFIX in stored:
            t = t.float() * stored[key + SCALE_SUFFIX][:, None]
        for n in names:
            state[n] = t.float() if t.is_floating_point() else t
    model.load_state_dict(state)
    return apply_precision(model, comp.quantize) if kernels else model


def weights_bytes(md: ModelDir) -> int | None:
    """Size of a model's weights file on disk (None when it has none yet)."""
    try:
        return md.weights_path.stat().st_size
    except OSError:
        return None


def check_weights(path: Path, model: Any) -> None:
    """The safetensors header must list exactly the model's tensors with the model's shapes.

    Tied parameters (one tensor under two names) are stored once under either name.
    """
    from safetensors import SafetensorError, safe_open

    from seqtool.errors import one_line

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:  # reads the JSON header only
            stored = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as e:
        raise WorkspaceError(f"{path}: not a readable safetensors file ({one_line(e)})") from None
    groups: dict[int, list[str]] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for key, tensor in model.state_dict(keep_vars=True).items():
        groups.setdefault(id(tensor), []).append(key)
        shapes[key] = tuple(tensor.shape)
    unexpected = sorted(set(stored) - set(shapes))
    missing = [names[0] for names in groups.values() if not any(n in stored for n in names)]
    if unexpected or missing:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing[:3])}" + (" ..." if len(missing) > 3 else ""))
        if unexpected:
            problems.append(f"unexpected {', '.join(unexpected[:3])}" + (" ..." if len(unexpected) > 3 else ""))
        raise WorkspaceError(f"{path}: tensors do not match the model in config.json ({'; '.join(problems)})")
    for key, shape in stored.items():
        if shape != shapes[key]:
            raise WorkspaceError(
                f"{path}: tensor {key} has shape {list(shape)}, the model in config.json needs {list(shapes[key])}"
            )
