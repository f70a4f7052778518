package org.kvid.core;

/**
 * A source image turned upright by a clockwise rotation of 0, 90, 180 or 270 degrees - the
 * rotation a camera frame's {@code rotationDegrees} or a video's rotation metadata asks for
 * (what {@code Matrix.postRotate(degrees)} does to a bitmap, without the copy). A square frame
 * is rotated like any other: the rotation is applied once, here, and nowhere else.
 */
public final class Rotated implements Pixels {
    private final Pixels src;
    private final int degrees;

    public Rotated(Pixels src, int degrees) {
        int d = ((degrees % 360) + 360) % 360;
        if (d % 90 != 0) {
            throw new KvidException("rotation " + degrees + ": expected a multiple of 90 degrees");
        }
        this.src = src;
        this.degrees = d;
    }

    /** {@code src} itself when no rotation is needed. */
    public static Pixels of(Pixels src, int degrees) {
        return ((degrees % 360) + 360) % 360 == 0 ? src : new Rotated(src, degrees);
    }

    @Override
    public int width() {
        return degrees % 180 == 0 ? src.width() : src.height();
    }

    @Override
    public int height() {
        return degrees % 180 == 0 ? src.height() : src.width();
    }

    @Override
    public int pixel(int x, int y) {
        // Upright (x, y) -> source (sx, sy); clockwise rotation by 90 maps source (sx, sy) of an
        // h-row image to (h - 1 - sy, sx).
        switch (degrees) {
            case 90:
                return src.pixel(y, src.height() - 1 - x);
            case 180:
                return src.pixel(src.width() - 1 - x, src.height() - 1 - y);
            case 270:
                return src.pixel(src.width() - 1 - y, x);
            default:
                return src.pixel(x, y);
        }
    }
}
