"""Checkpoint files of the twins: what the reference code writes and what ours write.

BasicSR (the reference's SR code) saves ``{"params": state_dict}``, or
``{"params": ..., "params_ema": ...}`` when it keeps an exponential moving average, with any
``module.`` prefix of (Distributed)DataParallel stripped; KAIR (its denoising code) saves the
bare state dict. Files are read with ``torch.load(weights_only=True)``: tensors and plain
containers only, never arbitrary pickled objects.
"""

import io
from pathlib import Path

from lce_models.files import atomic_write

import torch

#: Keys tried in order when a checkpoint nests its state dict (EMA first, as BasicSR tests).
PARAM_KEYS = ("params_ema", "params")


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable or holds no state dict (one line)."""


def _is_state_dict(d):
    return isinstance(d, dict) and d and all(isinstance(k, str) and torch.is_tensor(v) for k, v in d.items())


def read(path, key=None):
    """(state dict of numpy arrays, the key it came from or None for a bare one, the whole
    loaded object) of a checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"cannot read {path} as a PyTorch checkpoint: {first}") from None
    keys = (key,) if key else PARAM_KEYS
    found = next((k for k in keys if isinstance(loaded, dict) and _is_state_dict(loaded.get(k))), None)
    if found is not None:
        state = loaded[found]
    elif key is None and _is_state_dict(loaded):
        state = loaded
    else:
        wanted = f"key {key!r}" if key else f"{' or '.join(PARAM_KEYS)}, or a bare state dict"
        raise CheckpointError(f"{path} holds no state dict under {wanted}")
    state = {k.removeprefix("module."): v.detach().float().numpy() for k, v in state.items()}
    return state, found, loaded


def write(path, params, params_ema=None, **extra):
    """Save a checkpoint in BasicSR's layout (``params``, optional ``params_ema``), plus
    plain-data ``extra`` entries (training metadata), atomically."""
    payload = {"params": params, **({"params_ema": params_ema} if params_ema is not None else {}), **extra}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return atomic_write(path, buffer.getvalue())
