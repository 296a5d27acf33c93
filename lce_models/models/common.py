"""The float pieces that the SR networks share: BasicSR's conv initialisation, LeakyReLU, the
upsampler's stages and the global residual."""

import tf_keras as keras


def float_conv(filters, name, use_bias=True, size=3):
    # BasicSR's default_init_weights: Kaiming normal (fan_in, ReLU gain) scaled by 0.1.
    return keras.layers.Conv2D(
        filters,
        size,
        padding="same",
        use_bias=use_bias,
        kernel_initializer=keras.initializers.VarianceScaling(0.02, "fan_in", "untruncated_normal"),
        name=name,
    )


def lrelu(name):
    return keras.layers.LeakyReLU(0.1, name=name)


def upsample_factors(scale):
    # x4 is two x2 stages, as in the reference code; x2 and x3 one stage.
    return (2, 2) if scale == 4 else (scale,)


def global_residual(out, x, c):
    """``out`` plus the bilinear upscaled input ``x`` when ``c.global_residual`` asks."""
    if c.global_residual == "none":
        return out
    base = keras.layers.UpSampling2D(c.scale, interpolation="bilinear", name="base")(x)
    return keras.layers.Add(name="global_residual")([out, base])
