package org.lcemodels.tiles;

/**
 * Pillow's bicubic resize ({@code Image.resize(size, Image.BICUBIC)}, Keys' a = -0.5) of an
 * opaque RGB image, in Pillow's own 8-bit fixed point (22 fractional bits, horizontal pass
 * first, each pass rounded and clipped to 8 bits), so the app's bicubic is the baseline the
 * evaluation reports. Android has no bicubic of its own ({@code createScaledBitmap} filters
 * bilinearly).
 */
public final class Bicubic {
    private static final int PRECISION_BITS = 32 - 8 - 2;

    private Bicubic() {}

    private static double filter(double x) {
        final double a = -0.5;
        if (x < 0.0) x = -x;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /** Per output position: first input index, tap count, fixed-point taps ({@code ksize} per position). */
    private static final class Coefficients {
        final int ksize;
        final int[] start;
        final int[] taps;
        final int[] weights;

        Coefficients(int inSize, int outSize) {
            double scale = (double) inSize / outSize;
            double filterScale = Math.max(scale, 1.0);
            double support = 2.0 * filterScale;
            ksize = (int) Math.ceil(support) * 2 + 1;
            start = new int[outSize];
            taps = new int[outSize];
            weights = new int[outSize * ksize];
            double[] k = new double[ksize];
            for (int xx = 0; xx < outSize; xx++) {
                double center = (xx + 0.5) * scale;
                double ss = 1.0 / filterScale;
                int xmin = Math.max((int) (center - support + 0.5), 0);
                int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
                double ww = 0.0;
                for (int x = 0; x < xmax; x++) {
                    k[x] = filter((x + xmin - center + 0.5) * ss);
                    ww += k[x];
                }
                for (int x = 0; x < xmax; x++) {
                    double w = ww != 0.0 ? k[x] / ww : k[x];
                    weights[xx * ksize + x] = (int) (w < 0 ? -0.5 + w * (1 << PRECISION_BITS)
                            : 0.5 + w * (1 << PRECISION_BITS));
                }
                start[xx] = xmin;
                taps[xx] = xmax;
            }
        }
    }

    private static int clip8(int v) {
        if (v >= (1 << PRECISION_BITS << 8)) return 255;
        if (v <= 0) return 0;
        return v >> PRECISION_BITS;
    }

    /** The {@code outWidth} x {@code outHeight} bicubic resize of an ARGB image (alpha set opaque). */
    public static int[] resize(int[] argb, int width, int height, int outWidth, int outHeight) {
        Coefficients h = new Coefficients(width, outWidth);
        int[] mid = new int[outWidth * height];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < outWidth; x++) mid[y * outWidth + x] = tap(argb, y * width + h.start[x], 1, h, x);
        }
        Coefficients v = new Coefficients(height, outHeight);
        int[] out = new int[outWidth * outHeight];
        for (int y = 0; y < outHeight; y++) {
            for (int x = 0; x < outWidth; x++) out[y * outWidth + x] = tap(mid, v.start[y] * outWidth + x, outWidth, v, y);
        }
        return out;
    }

    /** One output pixel: the taps of position {@code i} over pixels {@code first, first + step, ...}. */
    private static int tap(int[] pixels, int first, int step, Coefficients c, int i) {
        int r = 1 << (PRECISION_BITS - 1);
        int g = r;
        int b = r;
        for (int t = 0; t < c.taps[i]; t++) {
            int p = pixels[first + t * step];
            int w = c.weights[i * c.ksize + t];
            r += ((p >> 16) & 0xFF) * w;
            g += ((p >> 8) & 0xFF) * w;
            b += (p & 0xFF) * w;
        }
        return 0xFF000000 | clip8(r) << 16 | clip8(g) << 8 | clip8(b);
    }
}
