"""Trained weights travel as a pair: a Keras weights file and a small JSON model card.

The card names the network configuration (everything ``build_model`` needs) and whatever the
training recorded (data, steps, validation PSNR). Every tool reads a model through ``load``.
"""

import json
from dataclasses import fields
from pathlib import Path

from lce_models.files import atomic_write
from lce_models.networks import NetworkConfig, build_model

CARD_FORMAT = "lce-models/model-card/1"
#: Where shipped weights live: ``<name>_x<scale>.json`` beside ``<name>_x<scale>_weights.h5``.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


class ModelCardError(ValueError):
    """A model card or its weights file is missing, unreadable or does not fit (one line)."""


def save(model, card_path, **metadata):
    """Write ``model``'s weights and its card (``card_path``, a .json) atomically."""
    card_path = Path(card_path)
    # Not "*.weights.h5": tf_keras reads that suffix as the Keras 3 format, not HDF5.
    weights_path = card_path.with_name(card_path.stem + "_weights.h5")
    tmp = weights_path.with_name(f".{weights_path.stem}.tmp.h5")
    card_path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(tmp))
    tmp.replace(weights_path)
    card = {
        "format": CARD_FORMAT,
        "network": model.config.to_dict(),
        "weights": weights_path.name,
        **metadata,
    }
    atomic_write(card_path, json.dumps(card, indent=2) + "\n")
    return card_path


def read(card_path):
    """Parse and check a card; returns (NetworkConfig, weights path, card dict)."""
    card_path = Path(card_path)
    if not card_path.is_file():
        raise ModelCardError(f"model card not found: {card_path}")
    try:
        card = json.loads(card_path.read_text())
        known = {f.name for f in fields(NetworkConfig)}
        config = NetworkConfig(**{k: v for k, v in card["network"].items() if k in known})
        weights = card_path.parent / card["weights"]
    except (ValueError, KeyError, TypeError) as e:
        raise ModelCardError(f"{card_path} is not a model card ({e})") from None
    if card.get("format") != CARD_FORMAT:
        raise ModelCardError(f"{card_path}: unknown card format {card.get('format')!r}")
    if not weights.is_file():
        raise ModelCardError(f"weights file named by {card_path} not found: {weights}")
    return config, weights, card


def load(card_path, input_shape=(None, None), batch_size=None):
    """Build the network of a card and load its weights."""
    config, weights, card = read(card_path)
    model = build_model(config, input_shape, batch_size)
    try:
        model.load_weights(str(weights))
    except (OSError, ValueError, KeyError) as e:
        raise ModelCardError(f"cannot load {weights}: {str(e).splitlines()[0]}") from None
    model.card = card
    return model


def shipped(name, scale):
    """The card of shipped weights for a network, or None when none ship yet."""
    card = WEIGHTS_DIR / f"{name}_x{scale}.json"
    return card if card.is_file() else None
