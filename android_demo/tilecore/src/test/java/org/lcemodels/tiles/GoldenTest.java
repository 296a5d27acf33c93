package org.lcemodels.tiles;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Scanner;
import org.junit.Test;

/**
 * The golden vectors of {@code tests/golden_tiling.py}, which the Python tests check against
 * {@code lce_models.upscaling.tiling} and {@code tools/upscale.py}'s code path: the same plan, the same
 * stitched output of the same stub model, the same bicubic.
 */
public class GoldenTest {
    static final class Case {
        String name;
        int height, width, tileHeight, tileWidth, overlap, scale;
        int[] input, output, bicubic;
        List<Tile> plan = new ArrayList<>();
    }

    static Path goldenPath() {
        String p = System.getProperty("golden", "../../tests/fixtures/tiling_golden.txt");
        return Paths.get(p);
    }

    static int[] hex(Scanner in, int n) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) v[i] = (int) Long.parseLong(in.next(), 16);
        return v;
    }

    static List<Case> cases() throws IOException {
        List<Case> cases = new ArrayList<>();
        String text = new String(Files.readAllBytes(goldenPath()), "UTF-8");
        Scanner in = new Scanner(text.replaceAll("(?m)^#.*$", ""));
        while (in.hasNext()) {
            Case c = new Case();
            expect(in, "case");
            c.name = in.next();
            expect(in, "image");
            c.height = in.nextInt();
            c.width = in.nextInt();
            expect(in, "tile");
            c.tileHeight = in.nextInt();
            c.tileWidth = in.nextInt();
            expect(in, "overlap");
            c.overlap = in.nextInt();
            expect(in, "scale");
            c.scale = in.nextInt();
            expect(in, "input");
            c.input = hex(in, c.height * c.width);
            expect(in, "plan");
            int n = in.nextInt();
            for (int i = 0; i < n; i++) {
                c.plan.add(new Tile(in.nextInt(), in.nextInt(), in.nextInt(), in.nextInt(), in.nextInt(), in.nextInt()));
            }
            int outPixels = c.height * c.scale * c.width * c.scale;
            expect(in, "output");
            c.output = hex(in, outPixels);
            expect(in, "bicubic");
            c.bicubic = hex(in, outPixels);
            expect(in, "end");
            cases.add(c);
        }
        return cases;
    }

    static void expect(Scanner in, String word) {
        String got = in.next();
        if (!got.equals(word)) throw new IllegalStateException("golden file: expected " + word + ", got " + got);
    }

    /** The Python stub: 3x3 maximum clamped inside the tile, then nearest-neighbour x scale. */
    static Upscaler.TileModel stub(int th, int tw, int s) {
        return (in, out) -> {
            for (int y = 0; y < th; y++) {
                for (int x = 0; x < tw; x++) {
                    for (int c = 0; c < 3; c++) {
                        float m = Float.NEGATIVE_INFINITY;
                        for (int dy = -1; dy <= 1; dy++) {
                            for (int dx = -1; dx <= 1; dx++) {
                                int yy = Math.min(Math.max(y + dy, 0), th - 1);
                                int xx = Math.min(Math.max(x + dx, 0), tw - 1);
                                m = Math.max(m, in[(yy * tw + xx) * 3 + c]);
                            }
                        }
                        for (int dy = 0; dy < s; dy++) {
                            for (int dx = 0; dx < s; dx++) out[((y * s + dy) * tw * s + x * s + dx) * 3 + c] = m;
                        }
                    }
                }
            }
        };
    }

    @Test
    public void allCasesAreRead() throws IOException {
        assertEquals(4, cases().size());
    }

    @Test
    public void planMatchesPython() throws IOException {
        for (Case c : cases()) {
            List<Tile> plan = new ArrayList<>();
            for (List<Tile> row : TilePlan.plan(Math.max(c.height, c.tileHeight), Math.max(c.width, c.tileWidth),
                    c.tileHeight, c.tileWidth, c.overlap)) {
                plan.addAll(row);
            }
            assertEquals(c.name, c.plan, plan);
            assertEquals(c.name, c.plan.size(), TilePlan.count(c.height, c.width, c.tileHeight, c.tileWidth, c.overlap));
        }
    }

    @Test
    public void stitchedOutputMatchesPython() throws IOException {
        for (Case c : cases()) {
            Upscaler up = new Upscaler(stub(c.tileHeight, c.tileWidth, c.scale), c.tileHeight, c.tileWidth, c.overlap,
                    c.scale);
            int[] done = {0};
            int[] out = up.upscale(c.input, c.width, c.height, (n, total, nanos) -> {
                assertEquals(++done[0], n);
                assertEquals(c.plan.size(), total);
            });
            assertArrayEquals(c.name, c.output, out);
            assertEquals(c.name, c.plan.size(), done[0]);
        }
    }

    @Test
    public void bicubicMatchesPillow() throws IOException {
        for (Case c : cases()) {
            int[] out = Bicubic.resize(c.input, c.width, c.height, c.width * c.scale, c.height * c.scale);
            assertArrayEquals(c.name, c.bicubic, out);
        }
    }

    @Test
    public void goldenOutputDependsOnThePlan() throws IOException {
        // A plan with less overlap keeps other tiles' borders: the golden output would catch it.
        Case c = cases().get(0);
        int[] other = new Upscaler(stub(c.tileHeight, c.tileWidth, c.scale), c.tileHeight, c.tileWidth, 0, c.scale)
                .upscale(c.input, c.width, c.height, null);
        assertFalse(java.util.Arrays.equals(c.output, other));
    }
}
