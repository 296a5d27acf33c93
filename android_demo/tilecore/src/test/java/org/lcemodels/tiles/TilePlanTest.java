package org.lcemodels.tiles;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.concurrent.CancellationException;
import org.junit.Test;

public class TilePlanTest {
    @Test
    public void spansPartitionTheAxisWithContextOnEveryInnerSide() {
        int[][] cases = {{7, 16, 3}, {16, 16, 3}, {17, 16, 3}, {100, 16, 3}, {301, 48, 16}, {1000, 180, 16}};
        for (int[] c : cases) {
            int size = c[0], length = c[1], overlap = c[2];
            List<Span> spans = TilePlan.spans(size, length, overlap);
            assertEquals(0, spans.get(0).keepFrom);
            assertEquals(size, spans.get(spans.size() - 1).keepTo);
            for (int i = 0; i < spans.size(); i++) {
                Span s = spans.get(i);
                assertTrue(s.keepFrom < s.keepTo);
                if (i > 0) {
                    assertEquals(spans.get(i - 1).keepTo, s.keepFrom);
                    assertTrue(s.keepFrom - s.start >= overlap);
                }
                if (i < spans.size() - 1) assertTrue(s.start + length - s.keepTo >= overlap);
            }
        }
    }

    @Test
    public void aTileNeedsRoomInsideTheOverlap() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Upscaler((in, out) -> {}, 8, 8, 4, 2));
        assertTrue(e.getMessage().contains("leaves nothing"));
    }

    @Test
    public void reflectIsNumpysReflect() {
        // np.pad(np.arange(3), (0, 7), mode="reflect") == [0 1 2 1 0 1 2 1 0 1]
        int[] expected = {0, 1, 2, 1, 0, 1, 2, 1, 0, 1};
        for (int i = 0; i < expected.length; i++) assertEquals(expected[i], Pixels.reflect(i, 3));
        assertEquals(0, Pixels.reflect(5, 1));
    }

    @Test
    public void outputRoundsHalfToEvenAndClamps() {
        assertEquals(0, Pixels.toByte(-0.3f));
        assertEquals(255, Pixels.toByte(1.7f));
        assertEquals(0, Pixels.toByte(Float.NaN));
        for (int v = 0; v < 256; v++) assertEquals(v, Pixels.toByte(v / 255f));
    }

    @Test
    public void anInterruptedThreadStopsBetweenTiles() {
        Upscaler up = new Upscaler((in, out) -> Thread.currentThread().interrupt(), 8, 8, 1, 1);
        try {
            assertThrows(CancellationException.class, () -> up.upscale(new int[20 * 20], 20, 20, null));
        } finally {
            Thread.interrupted();  // clear the flag for the other tests
        }
    }

    @Test
    public void wrongPixelCountIsRefused() {
        Upscaler up = new Upscaler((in, out) -> {}, 8, 8, 1, 1);
        assertThrows(IllegalArgumentException.class, () -> up.upscale(new int[10], 4, 4, null));
    }
}
