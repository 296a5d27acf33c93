"""What the command-line tools share: argument types and one-line errors for user mistakes."""

import argparse
import functools
import sys
from pathlib import Path

from lce_models import model_card
from lce_models.model_card import ModelCardError
from lce_models.networks import NETWORKS, ConfigurationError, NetworkConfig

#: Exit status for a user mistake (bad flag, unknown model, missing file), as argparse uses.
USAGE_ERROR = 2


class UserError(Exception):
    """A mistake of the user's: printed as one line, exit status 2, no traceback."""


def size(text):
    """argparse type for ``HxW`` (e.g. ``180x320``)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 180x320, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"height and width must be positive, got {text!r}")
    return h, w


def key_value(text):
    """argparse type for ``KEY=VALUE`` (e.g. ``reduce=mean``)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def sr_card(spec, scale=4):
    """The model card a tool's --models item names: a card .json as it is, or the shipped
    weights of an SR network name (a user error when none ship)."""
    if spec.endswith(".json"):
        return Path(spec)
    if spec not in NETWORKS or NETWORKS[spec].task != "sr":
        raise UserError(f"{spec!r} is neither an SR network name nor a model card .json")
    card = model_card.shipped(NetworkConfig(spec, scale).resolved())
    if card is None:
        raise UserError(f"no trained weights ship for {spec} x{scale} yet")
    return card


#: Help of the network-variant flags the tools share.
VARIANT_HELP = ("BBCU unit variant v1..v4 (default v4), or for bsrn/srresnet-bam: bam (the "
                "paper), bam-learned, or the ablations w1, w2, a1, a2 (default bam)")
BAM_OPTION_HELP = ("override a BAMOptions field of bsrn/srresnet-bam, e.g. reduce=mean, "
                   "weight_terms=latent, weight_norm=none (repeatable)")
UNIT_OPTION_HELP = ("override a UnitOptions field of a BBCU network, e.g. estimator=ede, "
                    "weight_estimator=swish, balanced=true, weight_scale=pow2, attention=spatial, "
                    "beta=5 (repeatable)")


def unit_options(pairs):
    """--unit-option KEY=VALUE pairs as ``UnitOptions`` fields: true/false and numbers converted."""
    if not pairs:
        return None
    options = {}
    for key, value in pairs:
        if value.lower() in ("true", "false"):
            options[key] = value.lower() == "true"
        else:
            try:
                options[key] = float(value)
            except ValueError:
                options[key] = value
    return options


def main(function):
    """Run a tool's ``main``: user mistakes become ``error: ...`` and exit status 2."""

    @functools.wraps(function)
    def wrapper(argv=None):
        try:
            return function(argv)
        except (UserError, ConfigurationError, ModelCardError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return USAGE_ERROR

    return wrapper
