package org.kvid.core;

/** One decoded video frame as ARGB pixels ({@code 0xAARRGGBB}, row-major, stride = width). */
public final class Frame implements Pixels {
    public final int[] argb;
    public final int width;
    public final int height;

    public Frame(int[] argb, int width, int height) {
        if (width < 1 || height < 1 || argb.length < width * height) {
            throw new KvidException("frame " + width + "x" + height + ": " + argb.length + " pixels is not a frame of that size");
        }
        this.argb = argb;
        this.width = width;
        this.height = height;
    }

    @Override
    public int width() {
        return width;
    }

    @Override
    public int height() {
        return height;
    }

    @Override
    public int pixel(int x, int y) {
        return argb[y * width + x];
    }
}
