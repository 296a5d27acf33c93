package org.lcemodels.tiles;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * The tile plan of {@code lce_models/upscaling/tiling.py}, integer for integer: overlapping tiles aligned
 * to the image edges, each output pixel taken from exactly one tile, the boundary between two
 * neighbours in the middle of their overlap. The shared golden vectors keep the two equal.
 */
public final class TilePlan {
    private TilePlan() {}

    /** Throws unless a tile of {@code length} keeps something inside {@code overlap} on each side. */
    public static void check(int length, int overlap) {
        if (length <= 2 * overlap) {
            throw new IllegalArgumentException("a tile of " + length + " pixels leaves nothing inside an overlap of "
                    + overlap + " on each side");
        }
    }

    /** The tiles of {@code length} pixels along an axis of {@code size}, sharing {@code overlap} of context. */
    public static List<Span> spans(int size, int length, int overlap) {
        List<Span> out = new ArrayList<>();
        if (size <= length) {
            out.add(new Span(0, 0, size));
            return out;
        }
        check(length, overlap);
        int last = size - length;
        TreeSet<Integer> starts = new TreeSet<>();
        for (int s = 0; s < last; s += length - 2 * overlap) starts.add(s);
        starts.add(last);
        Integer[] s = starts.toArray(new Integer[0]);
        int from = 0;
        for (int i = 0; i < s.length; i++) {
            // Python's // on non-negative ints is Java's /.
            int to = i + 1 < s.length ? (s[i] + length + s[i + 1]) / 2 : size;
            out.add(new Span(s[i], from, to));
            from = to;
        }
        return out;
    }

    /** Row-major rows of tiles covering a {@code height} x {@code width} image (already padded to a tile). */
    public static List<List<Tile>> plan(int height, int width, int tileHeight, int tileWidth, int overlap) {
        List<List<Tile>> rows = new ArrayList<>();
        List<Span> cols = spans(width, tileWidth, overlap);
        for (Span r : spans(height, tileHeight, overlap)) {
            List<Tile> row = new ArrayList<>();
            for (Span c : cols) row.add(new Tile(r.start, c.start, r.keepFrom, r.keepTo, c.keepFrom, c.keepTo));
            rows.add(row);
        }
        return rows;
    }

    /** How many tiles an image of this size needs (it is padded up to one tile first). */
    public static int count(int height, int width, int tileHeight, int tileWidth, int overlap) {
        List<List<Tile>> rows = plan(Math.max(height, tileHeight), Math.max(width, tileWidth), tileHeight,
                tileWidth, overlap);
        return rows.size() * rows.get(0).size();
    }
}
