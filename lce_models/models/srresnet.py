"""SRResNet (MSRResNet of BasicSR): the float baseline and the topology the BBCU SR networks
binarize; its binary-weight variant (Ma et al., CVPR-W 2019)."""

from lce_models.models.msrresnet import sr_network
from lce_models.models.registry import register


@register("srresnet-fp", task="sr", description="float SRResNet baseline")
def srresnet_fp(image, config):
    """MSRResNet, the float network BBCU-L is binarized from."""
    return sr_network(image, config, body="float", binary_upsampler=False)


@register("srresnet-bw", task="sr",
          description="SRResNet with binary weights (Ma et al. 2019)")
def srresnet_bw(image, config):
    """The binary-weight SRResNet of Ma et al. (CVPR-W 2019): the residual blocks' conv
    weights are 1-bit, scaled by a learned gain per layer; activations stay full precision.

    No convolution has binary inputs, so LCE has no bitserial kernel for it: its converter
    emits float CONV_2D ops whose weights are the constants +-1 (with the gain as a MUL, or
    folded into them as +-alpha). Only storage shrinks (1 bit per weight when packed, which
    the float flatbuffer does not do); the op census shows it."""
    return sr_network(image, config, body="binary-weight", binary_upsampler=False)
