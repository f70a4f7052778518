package org.kvid.core;

import java.nio.ByteBuffer;

/**
 * An RGBA_8888 buffer with strides (a CameraX {@code ImageAnalysis} frame in
 * {@code OUTPUT_IMAGE_FORMAT_RGBA_8888}: one plane, R G B A bytes, {@code pixelStride} 4, rows
 * {@code rowStride} bytes apart), read in place: no bitmap, no copy. Absolute reads only, so the
 * buffer's position is left alone.
 */
public final class RgbaPixels implements Pixels {
    private final ByteBuffer buf;
    private final int width;
    private final int height;
    private final int rowStride;
    private final int pixelStride;

    public RgbaPixels(ByteBuffer buf, int width, int height, int rowStride, int pixelStride) {
        if (width < 1 || height < 1 || pixelStride < 4 || rowStride < width * pixelStride) {
            throw new KvidException("RGBA frame " + width + "x" + height + " (row stride " + rowStride + ", pixel stride "
                    + pixelStride + "): not a valid layout");
        }
        long needed = (long) (height - 1) * rowStride + (long) width * pixelStride;
        if (buf.limit() < needed) {
            throw new KvidException("RGBA frame " + width + "x" + height + ": buffer of " + buf.limit() + " bytes, needs "
                    + needed);
        }
        this.buf = buf;
        this.width = width;
        this.height = height;
        this.rowStride = rowStride;
        this.pixelStride = pixelStride;
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
        int o = y * rowStride + x * pixelStride;
        return 0xFF000000 | (buf.get(o) & 0xFF) << 16 | (buf.get(o + 1) & 0xFF) << 8 | (buf.get(o + 2) & 0xFF);
    }
}
