package org.lcemodels.tiles;

import java.util.List;
import java.util.concurrent.CancellationException;

/**
 * A fixed-size model run over an image of any size, tile by tile, stitched exactly as
 * {@code lce_models.upscaling.tiling.bands} stitches: the same plan, reflect padding of images smaller
 * than a tile, and each output pixel from the one tile that keeps it.
 */
public final class Upscaler {
    /** One tile through the network: {@code input} is tileHeight x tileWidth x 3 float RGB (HWC),
     * {@code output} (tileHeight * scale) x (tileWidth * scale) x 3. */
    public interface TileModel {
        void run(float[] input, float[] output);
    }

    /** Called after each tile, on the thread that runs {@link #upscale}. */
    public interface Listener {
        void onTile(int done, int total, long tileNanos);
    }

    private final TileModel model;
    private final int tileHeight;
    private final int tileWidth;
    private final int overlap;
    private final int scale;

    /**
     * @param overlap context shared by neighbouring tiles; at least the model's receptive
     *     radius for the stitched image to equal whole-image inference
     */
    public Upscaler(TileModel model, int tileHeight, int tileWidth, int overlap, int scale) {
        TilePlan.check(tileHeight, overlap);
        TilePlan.check(tileWidth, overlap);
        if (scale < 1) throw new IllegalArgumentException("scale must be >= 1, not " + scale);
        this.model = model;
        this.tileHeight = tileHeight;
        this.tileWidth = tileWidth;
        this.overlap = overlap;
        this.scale = scale;
    }

    /** How many tiles {@link #upscale} runs for an image of this size. */
    public int tiles(int height, int width) {
        return TilePlan.count(height, width, tileHeight, tileWidth, overlap);
    }

    /**
     * The restored image, opaque ARGB, (height * scale) x (width * scale), row-major. Stops with
     * a {@link CancellationException} between tiles once the calling thread is interrupted.
     */
    public int[] upscale(int[] argb, int width, int height, Listener listener) {
        if (argb.length != width * height) {
            throw new IllegalArgumentException(argb.length + " pixels for a " + width + "x" + height + " image");
        }
        int s = scale;
        int outWidth = width * s;
        int[] out = new int[outWidth * height * s];
        float[] in = new float[tileHeight * tileWidth * 3];
        float[] restored = new float[tileHeight * s * tileWidth * s * 3];
        int rowStride = tileWidth * s * 3;
        List<List<Tile>> plan = TilePlan.plan(Math.max(height, tileHeight), Math.max(width, tileWidth), tileHeight,
                tileWidth, overlap);
        int total = plan.size() * plan.get(0).size();
        int done = 0;
        for (List<Tile> row : plan) {
            for (Tile t : row) {
                if (Thread.currentThread().isInterrupted()) throw new CancellationException("upscale cancelled");
                long start = System.nanoTime();
                Pixels.window(argb, width, height, t.top, t.left, tileHeight, tileWidth, in);
                model.run(in, restored);
                // Kept region, cut to the real image (the padding of a small image is dropped).
                int yEnd = Math.min(t.keepBottom, height) * s;
                int xEnd = Math.min(t.keepRight, width) * s;
                for (int y = t.keepTop * s; y < yEnd; y++) {
                    int src = (y - t.top * s) * rowStride;
                    for (int x = t.keepLeft * s; x < xEnd; x++) {
                        int i = src + (x - t.left * s) * 3;
                        out[y * outWidth + x] = Pixels.toArgb(restored[i], restored[i + 1], restored[i + 2]);
                    }
                }
                done++;
                if (listener != null) listener.onTile(done, total, System.nanoTime() - start);
            }
        }
        return out;
    }
}
