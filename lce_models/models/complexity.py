"""Params and OPs counted the way the binary-SR papers count them.

BBCU (Xia et al., ICLR 2023, Table 1) follows Bi-Real Net / ReActNet:

* OPs = FLOPs + BOPs / 64, where FLOPs are the multiply-accumulates of the float convolutions
  and BOPs those of the binary convolutions (64 binary MACs per 64-bit XNOR-popcount word);
* Params = float convolution parameters + binary weights / 32.

Both are taken at an LR input of 320x180 (a 1280x720 x4 output). Per-channel float parameters
around the binary convolutions (RSign shifts, RPReLU, BatchNorm) are not in the papers'
figures; they are reported apart as ``other_params``. Element-wise ops, pixel shuffle and the
bilinear residual (or VDSR's bicubic enlargement) are not counted, as in the papers.

BSRN (Xin et al., ECCV 2020, Table 3) counts every weight and every multiply-accumulate at
full size, binary or not: ``macs`` and ``trainable_params`` (what PyTorch's ``parameters()``
holds: convolutions, BatchNorm scales and shifts, accumulation coefficients; no running
statistics). Its totals are for a 1280x720 output as well.
"""

from dataclasses import dataclass

from lce_models.models.bam import BAMConv2D

import larq as lq
import numpy as np
import tf_keras as keras

#: LR input (H, W) of the papers' complexity figures.
PAPER_INPUT = (180, 320)


@dataclass(frozen=True)
class Complexity:
    flops: int  # float multiply-accumulates
    bops: int  # binary multiply-accumulates
    float_conv_params: int
    binary_params: int
    other_params: int
    trainable_params: int

    @property
    def macs(self):
        """All multiply-accumulates, binary ones at full count (BSRN's convention)."""
        return self.flops + self.bops

    @property
    def ops(self):
        """OPs = FLOPs + BOPs / 64."""
        return self.flops + self.bops / 64

    @property
    def params(self):
        """Params = float conv params + binary params / 32."""
        return self.float_conv_params + self.binary_params / 32

    @property
    def binarized_ops_share(self):
        """Share of the multiply-accumulates that run as binary ops."""
        return self.bops / max(self.bops + self.flops, 1)


def is_binary_conv(layer):
    """True for a convolution whose inputs and weights are both binarized."""
    return (
        isinstance(layer, lq.layers.QuantConv2D)
        and layer.input_quantizer is not None
        and (layer.kernel_quantizer is not None or isinstance(layer, BAMConv2D))
    )


def count(model):
    """Count the complexity of a Keras model built with a fixed input shape."""
    flops = bops = float_params = binary_params = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):  # QuantConv2D is a Conv2D too
            _, h, w, _ = layer.output_shape
            if h is None or w is None:
                raise ValueError("complexity needs a model built with a fixed input shape")
            kernel = int(np.prod(layer.kernel.shape))
            macs = h * w * kernel
            if is_binary_conv(layer):
                bops += macs
                binary_params += kernel
            elif getattr(layer, "kernel_quantizer", None) is not None:  # binary weights only
                flops += macs
                binary_params += kernel
                float_params += layer.count_params() - kernel
            else:
                flops += macs
                float_params += layer.count_params()
        elif hasattr(layer, "macs"):  # float layers with their own count (attention)
            flops += layer.macs(layer.output_shape)
            float_params += layer.count_params()
    conv_params = float_params + binary_params
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return Complexity(
        flops, bops, float_params, binary_params, model.count_params() - conv_params, trainable
    )
