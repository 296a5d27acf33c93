package org.lcemodels.tiles;

/** One tile along one axis: input {@code [start, start + length)}, output kept {@code [keepFrom, keepTo)}. */
public final class Span {
    public final int start;
    public final int keepFrom;
    public final int keepTo;

    public Span(int start, int keepFrom, int keepTo) {
        this.start = start;
        this.keepFrom = keepFrom;
        this.keepTo = keepTo;
    }
}
