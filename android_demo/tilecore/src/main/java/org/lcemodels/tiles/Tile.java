package org.lcemodels.tiles;

/**
 * A tile of the 2-D plan: the top-left corner of its input window and the output region it
 * keeps, half-open, in input-image pixels (multiply by the scale for the output).
 */
public final class Tile {
    public final int top;
    public final int left;
    public final int keepTop;
    public final int keepBottom;
    public final int keepLeft;
    public final int keepRight;

    public Tile(int top, int left, int keepTop, int keepBottom, int keepLeft, int keepRight) {
        this.top = top;
        this.left = left;
        this.keepTop = keepTop;
        this.keepBottom = keepBottom;
        this.keepLeft = keepLeft;
        this.keepRight = keepRight;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Tile)) return false;
        Tile t = (Tile) o;
        return top == t.top && left == t.left && keepTop == t.keepTop && keepBottom == t.keepBottom
                && keepLeft == t.keepLeft && keepRight == t.keepRight;
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(new int[] {top, left, keepTop, keepBottom, keepLeft, keepRight});
    }

    @Override
    public String toString() {
        return String.format("Tile(%d, %d, keep %d-%d x %d-%d)", top, left, keepTop, keepBottom, keepLeft, keepRight);
    }
}
