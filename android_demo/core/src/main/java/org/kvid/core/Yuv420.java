package org.kvid.core;

import java.nio.ByteBuffer;

/**
 * A decoded video frame in YUV 4:2:0 (Android's {@code YUV_420_888}: three planes with their own
 * row and pixel strides - I420, NV12 and NV21 are all this with different strides), read in
 * place and converted to RGB pixel by pixel, only where the preprocessor looks.
 *
 * <p>The conversion is OpenCV's {@code cvtColor(COLOR_YUV2RGB_I420)} (and _NV12/_NV21) byte for
 * byte: BT.601, limited range, each chroma sample covering a 2 x 2 block (nearest), Q20 fixed
 * point (the golden vectors check it against cv2):
 * <pre>
 *   y' = max(0, Y - 16) * 1220542;  u = U - 128;  v = V - 128
 *   R = clamp((y' + 2^19 + 1673527 v) &gt;&gt; 20)
 *   G = clamp((y' + 2^19 - 852492 v - 409993 u) &gt;&gt; 20)
 *   B = clamp((y' + 2^19 + 2116026 u) &gt;&gt; 20)
 * </pre>
 * kvid itself decodes with OpenCV's FFmpeg backend, whose swscale conversion rounds differently
 * in places, so a phone's frames can differ from kvid's by a level or two even when both decode
 * the same YUV; the parity dump measures that ({@code kvid predict --compare}).
 *
 * <p>Full-range video ({@code MediaFormat.COLOR_RANGE_FULL}) uses the full-range BT.601 matrix in
 * the same Q20 form: {@code R = Y + 1.402 v, G = Y - 0.344136 u - 0.714136 v, B = Y + 1.772 u}.
 */
public final class Yuv420 implements Pixels {
    static final int CY = 1220542;
    static final int CVR = 1673527;
    static final int CVG = -852492;
    static final int CUG = -409993;
    static final int CUB = 2116026;
    static final int FULL_CVR = 1470104;
    static final int FULL_CVG = -748830;
    static final int FULL_CUG = -360858;
    static final int FULL_CUB = 1858077;
    private static final int HALF = 1 << 19;

    private final ByteBuffer y;
    private final ByteBuffer u;
    private final ByteBuffer v;
    private final int yRow;
    private final int yPix;
    private final int uRow;
    private final int uPix;
    private final int vRow;
    private final int vPix;
    private final int left;
    private final int top;
    private final int width;
    private final int height;
    private final boolean fullRange;

    /**
     * Planes as {@code Image.getPlanes()} gives them (Y, U, V; buffers with their row and pixel
     * strides, in bytes), and the visible window {@code (left, top, width, height)} of the coded
     * image (the image's crop rectangle). Chroma sample of pixel (x, y) of the coded image is at
     * (x / 2, y / 2) of the chroma planes.
     */
    public Yuv420(ByteBuffer y, int yRowStride, int yPixelStride, ByteBuffer u, int uRowStride, int uPixelStride,
                  ByteBuffer v, int vRowStride, int vPixelStride, int left, int top, int width, int height,
                  boolean fullRange) {
        if (width < 1 || height < 1 || left < 0 || top < 0 || yPixelStride < 1 || uPixelStride < 1 || vPixelStride < 1) {
            throw new KvidException("YUV frame " + width + "x" + height + " at (" + left + ", " + top + "): not a valid layout");
        }
        check("Y", y, yRowStride, yPixelStride, left + width, top + height);
        check("U", u, uRowStride, uPixelStride, (left + width + 1) / 2, (top + height + 1) / 2);
        check("V", v, vRowStride, vPixelStride, (left + width + 1) / 2, (top + height + 1) / 2);
        this.y = y;
        this.u = u;
        this.v = v;
        this.yRow = yRowStride;
        this.yPix = yPixelStride;
        this.uRow = uRowStride;
        this.uPix = uPixelStride;
        this.vRow = vRowStride;
        this.vPix = vPixelStride;
        this.left = left;
        this.top = top;
        this.width = width;
        this.height = height;
        this.fullRange = fullRange;
    }

    private static void check(String plane, ByteBuffer b, int rowStride, int pixelStride, int cols, int rows) {
        long last = (long) (rows - 1) * rowStride + (long) (cols - 1) * pixelStride;
        if (rowStride < 1 || last >= b.limit()) {
            throw new KvidException("YUV frame: the " + plane + " plane (" + b.limit() + " bytes, row stride " + rowStride
                    + ", pixel stride " + pixelStride + ") does not hold " + cols + "x" + rows + " samples");
        }
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
    public int pixel(int x, int yy) {
        int cx = x + left;
        int cy = yy + top;
        int luma = y.get(cy * yRow + cx * yPix) & 0xFF;
        int cu = (u.get((cy >> 1) * uRow + (cx >> 1) * uPix) & 0xFF) - 128;
        int cv = (v.get((cy >> 1) * vRow + (cx >> 1) * vPix) & 0xFF) - 128;
        return fullRange ? full(luma, cu, cv) : limited(luma, cu, cv);
    }

    /** BT.601 limited range (OpenCV's integer arithmetic); {@code u}, {@code v} centred on 0. */
    static int limited(int luma, int u, int v) {
        int yy = Math.max(0, luma - 16) * CY + HALF;
        return pack(yy + CVR * v, yy + CVG * v + CUG * u, yy + CUB * u);
    }

    /** BT.601 full range, same Q20 form. */
    static int full(int luma, int u, int v) {
        int yy = (luma << 20) + HALF;
        return pack(yy + FULL_CVR * v, yy + FULL_CVG * v + FULL_CUG * u, yy + FULL_CUB * u);
    }

    private static int pack(int r, int g, int b) {
        return 0xFF000000 | clamp(r >> 20) << 16 | clamp(g >> 20) << 8 | clamp(b >> 20);
    }

    private static int clamp(int c) {
        return c < 0 ? 0 : (c > 255 ? 255 : c);
    }
}
