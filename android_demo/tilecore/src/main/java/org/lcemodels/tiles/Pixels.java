package org.lcemodels.tiles;

/**
 * ARGB ints (Android's {@code Bitmap.getPixels}) to and from the float RGB the networks take,
 * with the rounding of {@code tiling.py} and {@code upscaling.py}: in, {@code uint8 / 255} in
 * float32; out, clamped to [0, 1], times 255 in float32, rounded half to even (numpy's round).
 */
public final class Pixels {
    private Pixels() {}

    /** The channel value of a float in [0, 1] (anything else is clamped; NaN gives 0). */
    public static int toByte(float v) {
        float c = Math.min(Math.max(v, 0f), 1f);
        return (int) Math.rint(c * 255f);
    }

    /** An opaque ARGB pixel from float RGB. */
    public static int toArgb(float r, float g, float b) {
        return 0xFF000000 | toByte(r) << 16 | toByte(g) << 8 | toByte(b);
    }

    /** Channel {@code c} (0 red, 1 green, 2 blue) of an ARGB pixel as a float in [0, 1]. */
    public static float channel(int argb, int c) {
        return ((argb >> (16 - 8 * c)) & 0xFF) / 255f;
    }

    /**
     * numpy's {@code mode="reflect"} index (edge not repeated) of position {@code i >= 0} along
     * an axis of {@code n} pixels: how an image smaller than a tile is padded at the bottom/right.
     */
    public static int reflect(int i, int n) {
        if (n == 1) return 0;
        int period = 2 * (n - 1);
        int j = i % period;
        return j < n ? j : period - j;
    }

    /**
     * The {@code height} x {@code width} window at ({@code top}, {@code left}) of an image,
     * reflect-padded beyond its bottom/right edges, as float RGB, row-major HWC, into {@code dst}.
     */
    public static void window(int[] argb, int imageWidth, int imageHeight, int top, int left, int height, int width,
                              float[] dst) {
        int o = 0;
        for (int y = 0; y < height; y++) {
            int row = reflect(top + y, imageHeight) * imageWidth;
            for (int x = 0; x < width; x++) {
                int p = argb[row + reflect(left + x, imageWidth)];
                dst[o++] = channel(p, 0);
                dst[o++] = channel(p, 1);
                dst[o++] = channel(p, 2);
            }
        }
    }
}
