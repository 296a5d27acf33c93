"""The two binarizers of BBCU, taken from larq rather than re-implemented.

* Activations: ``approx_sign`` -- sign(x) forward, and the gradient of the piecewise polynomial
  of Bi-Real Net (Liu et al., ECCV 2018, Eq. 5-6): d/dx = 2 - 2|x| for |x| < 1, else 0. This is
  the ``BinaryActivation`` of the BBCU reference code.
* Weights: ``magnitude_aware_sign`` -- alpha * sign(W) with alpha = mean|W| per output channel
  (XNOR-Net, Rastegari et al., ECCV 2016, Eq. 2-4), alpha held out of the gradient and a
  clipped straight-through gradient (zero where |W| > 1). larq's gradient carries the constant
  alpha as a factor, the reference's does not; Adam normalises a constant per-weight factor
  away (up to its epsilon), so training follows the same path.

Both give sign(0) = +1, as LCE's bit-packing does; the reference's ``torch.sign(0) = 0`` only
matters for exact zeros, which in BBCU come from zero padding (handled by the conv's padding,
see ``lce_models.units``), not from the sign.
"""

import larq as lq

#: Input quantizer of every binary convolution.
ACTIVATION_QUANTIZER = "approx_sign"
#: Kernel quantizer of every binary convolution.
WEIGHT_QUANTIZER = "magnitude_aware_sign"

ApproxSign = lq.quantizers.ApproxSign
MagnitudeAwareSign = lq.quantizers.MagnitudeAwareSign
