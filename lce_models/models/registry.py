"""Networks by name: each family module (``bbcu``, ``srresnet``, ``bsrn``) registers its
builders with ``@register``; ``build_model(NetworkConfig(name, ...))`` builds one.

=============  ====================  =========================================================
name           task                  topology
=============  ====================  =========================================================
bbcu-l         SR x2/x3/x4           float head + LReLU, 16 blocks of two BBCU units, float
                                     pixel-shuffle upsampler, float HR and last conv, bilinear
                                     global residual, residual alignment k (paper Sec. 4.1)
bbcu-m         SR x2/x3/x4           as bbcu-l with a binary upsampler (BBCU-U) and a binary
                                     HR conv (BBCU-B)
srresnet-fp    SR x2/x3/x4           the same topology in float: 16 residual blocks
                                     conv-ReLU-conv (MSRResNet of BasicSR), the float baseline
bbcu-att       SR x2/x3/x4           bbcu-l whose units put a float attention on the binary
                                     branch (channel by default, or spatial), with the
                                     estimator and weight balancing of its ``unit_options``
srresnet-bw    SR x2/x3/x4           srresnet-fp with 1-bit residual-block weights and a
                                     learned gain per layer, float activations (Ma et al.)
bbcu-dn        denoising             DnCNN: float head conv + ReLU, 18 BBCU units, float tail
                                     conv, output = input - predicted noise, k
bbcu-car       JPEG artifacts        the same DnCNN with a bias on every conv, binary ones
                                     included (reference ``network_dncnn3_bin``), grayscale
bsrn           SR x2/x3/x4           BSRN (Xin et al., ECCV 2020): float head conv, 20 HPB
                                     blocks of 2 LB blocks with bit accumulation
                                     (``lce_models.models.bam``), float body-end conv + long skip,
                                     float conv + pixel-shuffle upsampler, float last conv;
                                     48 features
srresnet-bam   SR x2/x3/x4           SRResNet_BAM of the same paper: 9x9 float head + PReLU,
                                     16 residual blocks of two 3x3 BAM steps (accumulating
                                     within the block), float conv + long skip, conv +
                                     pixel-shuffle + PReLU upsampler, 9x9 float last conv
vdsr-bam       SR x2/x3/x4           VDSR_BAM of the same paper: MATLAB's bicubic enlargement
                                     in the graph, float conv + ReLU, 9 pairs of 3x3 BAM steps
                                     (18 binary convs, accumulating within the pair), float
                                     last conv, plus the enlargement (VDSR's residual)
=============  ====================  =========================================================

The BAM networks of the paper are EDSR-style (``global_residual="none"``): with the paper's
block counts their totals are the paper's Table 3 (``tools/complexity.py``). Two departures
from the paper are defaults, each measured here, and each undone by one option.
``bsrn`` scales the image by k = 130 (BBCU's residual alignment; ``k=1`` is the paper's): it
trains faster and keeps the LCE flatbuffer within 50 dB of Keras, which k = 1 does not
(docs/models.md, "Sign flips cascade in full-depth BSRN"). The BAM networks add the bilinear upscaled
input to their output, as BBCU does (``global_residual="none"`` is the paper's): from scratch
on T91 + BSD200 (batch 8, LR patch 24), ``bsrn`` x4 reached 29.29 dB on Set5 after 100 steps
with it and 24.94 dB without, below bicubic; ``training/README.md`` has the runs. VDSR_BAM
restores a bicubic enlargement; TFLite has no bicubic resize, so ``layers.BicubicUpscale``
makes it of builtins (fixed filters and depth-to-space), and the network takes the LR image.

Models take float32 images in [0, 1], NHWC, and return the same.
"""

from dataclasses import asdict, dataclass, field, fields, replace

from lce_models.errors import UserError
from lce_models.models.construction import without_autograph

import tf_keras as keras

GLOBAL_RESIDUALS = ("bilinear", "none")


class ConfigurationError(UserError, ValueError):
    """A network configuration that cannot be built (one clear line, for the tools to print)."""


class Family:
    """What a family of networks takes beyond the fields every network has: its unit variant
    and their options, its global residual and its default k. This base is a float family's:
    no variant, no padding, no unit options, always the bilinear residual. The binary families
    (``bbcu.BBCU_FAMILY``, ``bsrn.BAM_FAMILY``) override what they take."""

    name = "float"
    #: ``global_residual`` of a card written before the field existed.
    legacy_global_residual = None

    def variant(self, config):
        """(variant, bam_options as a dict or None), checked and defaulted."""
        if config.bam_options is not None:
            raise ConfigurationError(f"{config.name} has no bit accumulation: no bam_options")
        if (config.variant, config.padding) != (None, "zero"):
            raise ConfigurationError(f"{config.name} is a float network: no variant or padding")
        return None, None

    def unit_options(self, config, spec):
        """``UnitOptions`` as a dict, or None for networks without BBCU units."""
        if config.unit_options is not None:
            raise ConfigurationError(f"{config.name} has no BBCU units: no unit_options")
        return None

    def global_residual(self, config):
        """What an SR network adds to its prediction."""
        if config.global_residual not in (None, "bilinear"):
            raise ConfigurationError(f"{config.name} always adds the bilinear upscaled input")
        return "bilinear"

    def default_k(self, variant, n_feats):
        """The residual alignment k when neither the config nor the network sets it."""
        return 1.0


FLOAT = Family()


@dataclass(frozen=True)
class NetworkSpec:
    task: str
    scales: tuple
    channels: int
    depth: int
    family: Family  # which unit variants and options apply
    description: str
    builder: object = field(repr=False)
    n_feats: int = 64
    k: float | None = None  # residual alignment, when the family's rule does not set it
    unit_defaults: tuple = ()  # (field, value) pairs of UnitOptions that differ from BBCU's

    @property
    def binary(self):
        return self.family is not FLOAT


#: name -> NetworkSpec, in the order the family modules register them.
NETWORKS = {}


def register(name, *, task, description, family=FLOAT, scales=(2, 3, 4), channels=3, depth=16, n_feats=64, k=None,
             unit_defaults=()):
    """Decorator: register ``builder(image, config) -> output`` as network ``name``. The keyword
    defaults are the papers' (3 channels, 64 features, 16 blocks; SR at x2, x3, x4); ``family``
    (a ``Family``) says which unit variants and options apply."""

    def decorate(builder):
        if name in NETWORKS:
            raise ValueError(f"network {name!r} is registered twice")
        NETWORKS[name] = NetworkSpec(task, tuple(scales), channels, depth, family, description, builder, n_feats, k,
                                     tuple(unit_defaults))
        return builder

    return decorate


@dataclass(frozen=True)
class NetworkConfig:
    """Everything that fixes a network's graph; JSON-friendly (``asdict``).

    Fields left as None take the network's default: ``scale`` 4 for SR (1 otherwise),
    ``channels``, ``n_feats`` and ``depth`` from the registry, ``variant`` v4 for BBCU networks
    (``lce_models.models.units``) and ``bam`` for BAM networks (``lce_models.models.bam``: the paper's BSRN
    or an ablation of its Table 4), ``k = 130 * n_feats / 64`` for BBCU networks whose variant
    uses residual alignment (paper Sec. 3.2), else 1. ``bam_options`` overrides fields of the
    variant's ``BAMOptions`` (resolved to all of them). ``global_residual`` is what an SR
    network adds to its prediction: ``"bilinear"``, the upscaled input (BBCU SR, srresnet-fp
    and, by default, the BAM networks), ``"none"`` (EDSR-style, the BAM papers' networks) or
    ``"bicubic"`` (VDSR_BAM, which restores the bicubic enlargement).
    ``unit_options`` overrides fields of a BBCU network's ``UnitOptions`` (estimators,
    balanced weights, attention; resolved to all of them). ``depth`` counts blocks of two units
    for BBCU SR, units for DnCNN, HPB blocks for BSRN, residual blocks for SRResNet_BAM, pairs
    of steps for VDSR_BAM.
    """

    name: str
    scale: int | None = None
    channels: int | None = None
    n_feats: int | None = None
    depth: int | None = None
    variant: str | None = None
    padding: str = "zero"
    k: float | None = None
    bam_options: dict | None = None
    global_residual: str | None = None
    unit_options: dict | None = None

    def resolved(self):
        """The same config with every default filled in, after validation."""
        spec = NETWORKS.get(self.name)
        if spec is None:
            raise ConfigurationError(
                f"unknown network {self.name!r}; choose from {', '.join(NETWORKS)}"
            )
        scale = self.scale if self.scale is not None else (4 if spec.task == "sr" else 1)
        if scale not in spec.scales:
            allowed = ", ".join(str(s) for s in spec.scales)
            raise ConfigurationError(f"{self.name} supports scale {allowed}, not {scale}")
        variant, bam_options = spec.family.variant(self)
        channels = self.channels or spec.channels
        if channels not in (1, 3):
            raise ConfigurationError(f"channels must be 1 (gray) or 3 (RGB), not {channels}")
        n_feats = self.n_feats or spec.n_feats
        if n_feats < channels or (self.depth is not None and self.depth < 1):
            raise ConfigurationError("n_feats must be >= channels and depth >= 1")
        k = self.k if self.k is not None else spec.k
        if k is None:
            k = spec.family.default_k(variant, n_feats)
        return replace(
            self, scale=scale, channels=channels, n_feats=n_feats, depth=self.depth or spec.depth,
            variant=variant, k=float(k), bam_options=bam_options,
            global_residual=self._resolved_global_residual(spec),
            unit_options=spec.family.unit_options(self, spec),
        )

    def _resolved_global_residual(self, spec):
        if spec.task != "sr":
            if self.global_residual is not None:
                raise ConfigurationError(f"{self.name} subtracts its predicted noise: no global_residual")
            return None
        return spec.family.global_residual(self)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        """The config a card or run.json describes. Keys of other versions are dropped; a BAM
        network described before ``global_residual`` existed had none."""
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        spec = NETWORKS.get(d.get("name"))
        if "global_residual" not in d and spec is not None and spec.family.legacy_global_residual:
            d["global_residual"] = spec.family.legacy_global_residual
        return cls(**d)


@without_autograph
def build_model(config, input_shape=(None, None), batch_size=None):
    """Build the Keras model of ``config`` (a ``NetworkConfig`` or a network name).

    ``input_shape`` is the LR (H, W); leave None for training on any size, fix it (and
    ``batch_size=1``) for conversion to TFLite.
    """
    if isinstance(config, str):
        config = NetworkConfig(config)
    config = config.resolved()
    spec = NETWORKS[config.name]
    inputs = keras.Input((*input_shape, config.channels), batch_size=batch_size, name="image")
    outputs = spec.builder(inputs, config)
    model = keras.Model(inputs, outputs, name=f"{config.name}_x{config.scale}")
    model.config = config
    return model
