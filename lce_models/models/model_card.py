"""Trained weights travel as a pair: a Keras weights file and a small JSON model card.

The card names the network configuration (everything ``build_model`` needs) and whatever the
training recorded (data, steps, validation PSNR). Every tool reads a model through ``load``.
"""

import json
import shutil
from pathlib import Path

from lce_models.errors import UserError
from lce_models.files import atomic_path, atomic_write
from lce_models.models import exact
from lce_models.models.registry import NETWORKS, ConfigurationError, NetworkConfig, build_model

CARD_FORMAT = "lce-models/model-card/1"
#: Where shipped weights live: ``<name>_x<scale>.json`` beside ``<name>_x<scale>_weights.h5``.
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


class ModelCardError(UserError, ValueError):
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
        config = NetworkConfig.from_dict(card["network"])
        weights = card_path.parent / card["weights"]
    except (ValueError, KeyError, TypeError, AttributeError) as e:  # AttributeError: "network" is no object
        raise ModelCardError(f"{card_path} is not a model card ({e})") from None
    if card.get("format") != CARD_FORMAT:
        raise ModelCardError(f"{card_path}: unknown card format {card.get('format')!r}")
    if not weights.is_file():
        raise ModelCardError(f"weights file named by {card_path} not found: {weights}")
    try:
        config.resolved()
    except (ConfigurationError, TypeError) as e:  # TypeError: a field of the wrong type
        raise ModelCardError(f"{card_path} describes no network of this version: {e}") from None
    return config, weights, card


def load(card_path, input_shape=(None, None), batch_size=None):
    """Build the network of a card and load its weights."""
    config, weights, card = read(card_path)
    model = build_model(config, input_shape, batch_size)
    load_weights(model, weights)
    model.card = card
    return model


def load_weights(model, weights):
    """Load a card's weights file into ``model``, built for the card's network (one-line
    error), with the shifts LCE folds into binary convs on alpha's grid
    (``exact.snap_shifts``: Keras and the flatbuffer then compute those convs alike)."""
    try:
        model.load_weights(str(weights))
    except (OSError, ValueError, KeyError) as e:
        raise ModelCardError(f"cannot load {weights}: {str(e).splitlines()[0]}") from None
    exact.snap_shifts(model)


def shipped(config):
    """The card of the shipped weights of ``config`` (a resolved ``NetworkConfig``), or None
    when none ship for exactly that configuration: weights trained with another padding,
    variant, k or width would not fit it."""
    card = WEIGHTS_DIR / f"{config.name}_x{config.scale}.json"
    if not card.is_file():
        return None
    return card if read(card)[0].resolved() == config else None


def shipped_cards(scale=None, tasks=("sr", "denoise", "jpeg")):
    """The shipped model cards of ``tasks`` (the SR ones of ``scale`` only, if given), in the
    registry's order."""
    return [card for name, spec in NETWORKS.items() if spec.task in tasks
            for card in sorted(WEIGHTS_DIR.glob(f"{name}_x{scale if scale and spec.task == 'sr' else '*'}.json"))]


def ship(card_path, hours=None, dest=WEIGHTS_DIR):
    """Copy a trained card and its weights into ``dest`` as ``<name>_x<scale>``, the name
    ``shipped`` looks for, adding the hours the training took (``hours``, plus those of the card
    a run started from, if its card records one); returns the new card's path."""
    config, weights, card = read(card_path)
    config = config.resolved()
    stem = f"{config.name}_x{config.scale}"
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest / f"{stem}_weights.h5") as tmp:
        shutil.copyfile(weights, tmp)
    card = {**card, "network": config.to_dict(), "weights": f"{stem}_weights.h5"}
    if hours is not None:
        hours += (card.get("training", {}).get("init") or {}).get("hours") or 0
        card["training"] = {**card.get("training", {}), "hours": round(hours, 4)}
    atomic_write(dest / f"{stem}.json", json.dumps(card, indent=2) + "\n")
    return dest / f"{stem}.json"
