"""Which twin builds a network configuration, and how its tensors become Keras weights.

A Keras layer name maps to a twin parameter prefix (``block03_unit2`` -> ``body.2.body.1``,
``unit05`` -> ``model.6``); each tensor is converted on the way:

- conv kernels (O, I, kh, kw) -> (kh, kw, I, O);
- ``LearnableBias`` (1, C, 1, 1) -> (C,); PReLU slopes (C,) -> (1, 1, C);
- channels in front of a pixel shuffle are permuted: ``torch.nn.PixelShuffle`` reads channel
  ``c * r * r + s`` for sub-pixel ``s`` of output channel ``c``, TensorFlow's
  ``depth_to_space`` channel ``s * C + c`` (``lce_models.models.layers.PixelShuffle``).
"""

import re

from lce_models.models.units import UnitOptions
from lce_models.torch_twin.modules import NETWORKS, build, upsample_factors

import numpy as np


class TwinError(ValueError):
    """A configuration has no twin, or a state dict does not fit one (one line)."""


def check_config(config):
    """The resolved ``config`` if a twin computes it; ``TwinError`` naming why not."""
    config = config.resolved()
    if config.name not in NETWORKS:
        raise TwinError(f"{config.name} has no PyTorch twin; choose from {', '.join(NETWORKS)}")
    if config.variant != "v4":
        raise TwinError(f"the PyTorch twin is the paper's BBCU (variant v4), not {config.variant}")
    if UnitOptions(**config.unit_options) != UnitOptions():
        raise TwinError("the PyTorch twin has the reference's units only: no unit options")
    if NETWORKS[config.name]["task"] == "sr" and config.global_residual != "bilinear":
        raise TwinError("the PyTorch twin adds the bilinear upscaled input, as the reference does")
    return config


def build_twin(config):
    """The twin module of a (checked) ``NetworkConfig``."""
    return build(check_config(config).to_dict())


def torch_prefix(layer_name, config):
    """The twin's parameter prefix of a Keras layer name (None for parameterless layers)."""
    c = config
    fixed = {"head_conv": "conv_first", "hr_conv": "conv_hr", "last_conv": "conv_last"}
    if NETWORKS[c.name]["task"] != "sr":
        fixed = {"head_conv": "model.0", "tail_conv": f"model.{c.depth + 2}"}
    unit = re.fullmatch(r"(block(\d+)_unit(\d)|unit(\d+)|up(\d)|hr)(?:_conv)?_(rsign_shift|bconv|rprelu)", layer_name)
    if layer_name in fixed:
        return fixed[layer_name]
    if re.fullmatch(r"up\d_conv", layer_name):
        return f"upconv{layer_name[2]}"
    if not unit:
        return None
    whole, block, sub, dn_unit, up, part = unit.groups()
    if block:
        prefix = f"body.{int(block) - 1}.body.{int(sub) - 1}"
    elif dn_unit:
        prefix = f"model.{int(dn_unit) + 1}"
    elif up:
        prefix = f"upconv{up}"
    else:
        prefix = "conv_hr"
    return prefix + {"rsign_shift": ".move0", "bconv": ".binary_conv", "rprelu": ".relu"}[part]


def _shuffle_permutation(channels, factor):
    """Index into torch's channel order for each of TensorFlow's (see the module doc)."""
    c = channels // (factor * factor)
    return np.array([(j % c) * factor * factor + j // c for j in range(channels)])


def _shuffle_factor(layer_name, config):
    """r when the layer's output channels feed a pixel shuffle by r, else None."""
    up = re.fullmatch(r"up(\d)_(conv|bconv|rprelu)", layer_name)
    return upsample_factors(config.scale)[int(up.group(1)) - 1] if up else None


def _names(layer, prefix):
    """The twin's names of a Keras layer's weights, in ``layer.weights`` order."""
    kind = type(layer).__name__
    if kind == "LearnableBias":
        return [f"{prefix}.bias"]
    if kind == "RPReLU":
        return [f"{prefix}.pr_bias0.bias", f"{prefix}.pr_prelu.weight", f"{prefix}.pr_bias1.bias"]
    return [f"{prefix}.weight"] + ([f"{prefix}.bias"] if getattr(layer, "use_bias", False) else [])


def _to_keras(tensor, keras_shape, permutation):
    t = np.asarray(tensor, np.float32)
    if len(keras_shape) == 4:
        t = t.transpose(2, 3, 1, 0)  # (O, I, kh, kw) -> (kh, kw, I, O)
    else:
        t = t.reshape(-1)  # per-channel vectors
    if permutation is not None:
        t = t[..., permutation]
    return t.reshape(keras_shape)


def weight_plan(model, config):
    """For each Keras weight of ``model`` (in ``model.weights`` order): its twin name and the
    channel permutation its output channels take (None if none)."""
    plan = []
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix = torch_prefix(layer.name, config)
        if prefix is None:
            raise TwinError(f"no twin tensor for Keras layer {layer.name}")
        factor = _shuffle_factor(layer.name, config)
        for weight, name in zip(layer.weights, _names(layer, prefix)):
            channels = int(weight.shape[-1])
            permutation = _shuffle_permutation(channels, factor) if factor else None
            plan.append((weight, name, permutation))
    return plan


def state_dict_to_keras(state, model, config):
    """Set ``model``'s weights from a twin state dict (name -> array), or raise ``TwinError``
    naming every missing, extra and mis-shaped tensor (``model`` is untouched then). The
    twin of ``config`` fixes the names and shapes a checkpoint must have."""
    expected = {name: tuple(t.shape) for name, t in build_twin(config).state_dict().items()}
    plan = weight_plan(model, config)
    assert {name for _, name, _ in plan} == set(expected), "twin and Keras model disagree"
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    bad = sorted(f"{name} {tuple(np.shape(state[name]))} (expected {shape})"
                 for name, shape in expected.items() if name in state and tuple(np.shape(state[name])) != shape)
    problems = [f"{what} {_listing(names)}" for what, names in
                (("missing", missing), ("unexpected", extra), ("mis-shaped", bad)) if names]
    if problems:
        raise TwinError(f"checkpoint does not fit {config.name} x{config.scale}: " + "; ".join(problems))
    for weight, name, permutation in plan:
        weight.assign(_to_keras(state[name], tuple(weight.shape), permutation))
    return model


def _listing(names, limit=4):
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown
