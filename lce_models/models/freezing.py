"""Training-only machinery taken out of a model before conversion.

Two kinds of binary convolution compute their binary weight in a way the converters need not
see: BSRN's bit accumulation (``lce_models.models.bam``) and the custom gradient estimators and
balanced weights of ``lce_models.models.quantizers``. At inference both weights are constants
(+-alpha per output channel) and both input signs are larq's sign, so each such conv is
replaced by a plain ``BinaryConv2D`` with larq's default quantizers holding the weight it
uses: ``magnitude_aware_sign`` leaves +-alpha unchanged, the outputs are the same (to float
rounding: the graphs differ), and LCE makes one ``LceBconv2d`` of it (tf2onnx one ``Conv``
with folded weights). The custom
estimators would otherwise reach the converter with their training-step variable (EDE), which
makes LCE's SavedModel path fail and fall back to a GraphDef conversion.
"""

from lce_models.models import quantizers
from lce_models.models.bam import BAMConv2D
from lce_models.models.bconv import BinaryConv2D
from lce_models.models.construction import without_autograph

import larq as lq
import tf_keras as keras


def _custom(layer):
    return isinstance(layer, lq.layers.QuantConv2D) and (
        isinstance(layer, BAMConv2D)
        or isinstance(layer.input_quantizer, quantizers.BinaryActivation)
        or isinstance(layer.kernel_quantizer, quantizers.BinaryWeight)
    )


def _plain(layer):
    """The plain twin of a custom binary conv, and the weights it takes."""
    if isinstance(layer, BAMConv2D):
        return layer.frozen(), [layer.binary_kernel().numpy()]
    twin = BinaryConv2D(
        layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
        pad_values=layer.pad_values, dilation_rate=layer.dilation_rate, use_bias=layer.use_bias,
        input_quantizer=quantizers.ACTIVATION_QUANTIZER if layer.input_quantizer is not None else None,
        kernel_quantizer=quantizers.WEIGHT_QUANTIZER, name=layer.name,
    )
    weights = [layer.binary_kernel().numpy()] + ([layer.bias.numpy()] if layer.use_bias else [])
    return twin, weights


def freeze(model):
    """The same model with every custom binary conv replaced by its plain twin: the same
    outputs (to float rounding), and a graph LCE and tf2onnx lower. Models without one come
    back unchanged."""
    custom = {layer.name: _plain(layer) for layer in model.layers if _custom(layer)}
    if not custom:
        return model

    def clone(layer):
        if layer.name in custom:
            return custom[layer.name][0]
        return layer.__class__.from_config(layer.get_config())

    twin = without_autograph(keras.models.clone_model)(model, clone_function=clone)
    for layer in model.layers:
        weights = custom[layer.name][1] if layer.name in custom else layer.get_weights()
        twin.get_layer(layer.name).set_weights(weights)
    if hasattr(model, "config"):
        twin.config = model.config
    return twin
