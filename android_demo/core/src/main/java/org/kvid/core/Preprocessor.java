package org.kvid.core;

/**
 * Frames to the model's input tensor, byte for byte what kvid builds in Python
 * ({@code kvid.data.transforms.eval_views} + {@code kvid.runtime.ClipModel.quantize_input}).
 *
 * <p>One frame: any upright {@link Pixels} (ARGB, alpha dropped) -&gt; short side resized to
 * {@code resize} -&gt; a {@code crop x crop} window, with the exact integer arithmetic of
 * {@code kvid/data/transforms.py} (its module text is the specification):
 * <pre>
 * resized size:  h &lt;= w: oh = R, ow = (2 w R + h) / (2 h);  else ow = R, oh = (2 h R + w) / (2 w)
 * box prefilter: f = min(h, w) / R; if f &gt;= 2 average f x f blocks (rounded), h /= f, w /= f
 * view origins:  centre (top, left) = ((oh - crop) / 2, (ow - crop) / 2); with 3 crops then
 *                both ends of the long side: (cy, 0), (cy, ow - crop) if oh &lt;= ow, else
 *                (0, cx), (oh - crop, cx)
 * taps (Q16):    s = ((2x + 1) w 65536) / (2 ow) - 32768, clamped to [0, (w - 1) 65536];
 *                x0 = s &gt;&gt; 16, x1 = min(x0 + 1, w - 1), ax = (s &amp; 0xFFFF) &gt;&gt; 5  (Q11)
 * pixel:         ((p00 (2048 - ax) + p01 ax) (2048 - ay) + (p10 (2048 - ax) + p11 ax) ay + 2^21) &gt;&gt; 22
 * </pre>
 * Clip: T such frames stacked in (T, H, W, 3) order, then quantised per element:
 * {@code q = clamp(rint(p / scale) + zeroPoint)} in float32 arithmetic as numpy does it (for kvid's
 * int8 exports scale 1 and zero point -128, i.e. {@code p - 128}).
 */
public final class Preprocessor {
    public final int resize;
    public final int crop;

    public Preprocessor(int resize, int crop) {
        if (crop < 1 || resize < crop) {
            throw new KvidException("resize=" + resize + ", crop=" + crop + ": resize must be at least crop (>= 1)");
        }
        this.resize = resize;
        this.crop = crop;
    }

    public static Preprocessor of(Sidecar sidecar) {
        return sidecar.clip.preprocessor();
    }

    /** {@code round(crop * 8 / 7)} in integers, as kvid.data.transforms.default_resize. */
    public static int defaultResize(int crop) {
        return (16 * crop + 7) / 14;
    }

    /** {oh, ow} after resizing the short side of an h x w frame to {@code shortSide}. */
    public static int[] resizedShape(int h, int w, int shortSide) {
        if (h <= w) {
            return new int[] {shortSide, (int) ((2L * w * shortSide + h) / (2L * h))};
        }
        return new int[] {(int) ((2L * h * shortSide + w) / (2L * w)), shortSide};
    }

    /** Bytes of one preprocessed frame: crop * crop * 3 (RGB, unsigned). */
    public int frameBytes() {
        return crop * crop * 3;
    }

    /**
     * The {top, left} origins (in the resized frame) of the {@code crops} test views of an
     * {@code height x width} frame, in kvid's order: the centre first, then for 3 crops the
     * top/left end and the bottom/right end of the long side.
     */
    public int[][] viewOrigins(int height, int width, int crops) {
        int[] rs = resizedShape(height, width, resize);
        int oh = rs[0];
        int ow = rs[1];
        int cy = (oh - crop) / 2;
        int cx = (ow - crop) / 2;
        if (crops == 1) {
            return new int[][] {{cy, cx}};
        }
        if (crops == 3) {
            if (oh <= ow) {
                return new int[][] {{cy, cx}, {cy, 0}, {cy, ow - crop}};
            }
            return new int[][] {{cy, cx}, {0, cx}, {oh - crop, cx}};
        }
        throw new KvidException("crops=" + crops + ": the app takes 1 or 3 test views");
    }

    /** The centre view of an ARGB frame ({@code width x height}, row stride {@code width}). */
    public void centerView(int[] argb, int width, int height, byte[] out, int offset) {
        centerView(new Frame(argb, width, height), out, offset);
    }

    /** The centre view of {@code src}, as unsigned RGB bytes to {@code out[offset .. offset + frameBytes())}. */
    public void centerView(Pixels src, byte[] out, int offset) {
        view(src, 1, 0, out, offset);
    }

    /** View {@code index} (of {@code crops}: 1 or 3, {@link #viewOrigins} order) of {@code src}. */
    public void view(Pixels src, int crops, int index, byte[] out, int offset) {
        int width = src.width();
        int height = src.height();
        if (width < 1 || height < 1) {
            throw new KvidException("frame " + width + "x" + height + ": empty frame");
        }
        int[][] origins = viewOrigins(height, width, crops);
        if (index < 0 || index >= origins.length) {
            throw new KvidException("view " + index + ": there are " + origins.length);
        }
        if (offset < 0 || offset + frameBytes() > out.length) {
            throw new KvidException("view buffer of " + out.length + " bytes has no room for a view at " + offset);
        }
        int[] rs = resizedShape(height, width, resize);
        int oh = rs[0];
        int ow = rs[1];
        int f = Math.min(height, width) / resize;
        int h = height;
        int w = width;
        if (f >= 2) {
            h = height / f;
            w = width / f;
        }
        int top = origins[index][0];
        int left = origins[index][1];

        int[] y0 = new int[crop];
        int[] y1 = new int[crop];
        int[] ay = new int[crop];
        int[] x0 = new int[crop];
        int[] x1 = new int[crop];
        int[] ax = new int[crop];
        taps(h, oh, top, y0, y1, ay);
        taps(w, ow, left, x0, x1, ax);

        // The (box-filtered) source pixels the window needs: the distinct rows and columns of
        // the taps, computed once each (a 1080p frame needs ~(crop+1)^2 of its pixels).
        int[] rowIndex = new int[h];
        int[] rows = distinct(y0, y1, h, rowIndex);
        int[] colIndex = new int[w];
        int[] cols = distinct(x0, x1, w, colIndex);
        int[] src3 = new int[rows.length * cols.length * 3];
        int ff = f * f;
        for (int r = 0; r < rows.length; r++) {
            for (int c = 0; c < cols.length; c++) {
                int o = (r * cols.length + c) * 3;
                if (f < 2) {
                    int p = src.pixel(cols[c], rows[r]);
                    src3[o] = (p >> 16) & 0xFF;
                    src3[o + 1] = (p >> 8) & 0xFF;
                    src3[o + 2] = p & 0xFF;
                } else {
                    int sr = 0;
                    int sg = 0;
                    int sb = 0;
                    int baseY = rows[r] * f;
                    int baseX = cols[c] * f;
                    for (int dy = 0; dy < f; dy++) {
                        for (int dx = 0; dx < f; dx++) {
                            int p = src.pixel(baseX + dx, baseY + dy);
                            sr += (p >> 16) & 0xFF;
                            sg += (p >> 8) & 0xFF;
                            sb += p & 0xFF;
                        }
                    }
                    src3[o] = (sr + ff / 2) / ff;
                    src3[o + 1] = (sg + ff / 2) / ff;
                    src3[o + 2] = (sb + ff / 2) / ff;
                }
            }
        }
        int nc = cols.length;
        for (int y = 0; y < crop; y++) {
            int r0 = rowIndex[y0[y]] * nc;
            int r1 = rowIndex[y1[y]] * nc;
            int wy1 = ay[y];
            int wy0 = 2048 - wy1;
            int outRow = offset + y * crop * 3;
            for (int x = 0; x < crop; x++) {
                int c0 = colIndex[x0[x]];
                int c1 = colIndex[x1[x]];
                int wx1 = ax[x];
                int wx0 = 2048 - wx1;
                for (int k = 0; k < 3; k++) {
                    int top0 = src3[(r0 + c0) * 3 + k] * wx0 + src3[(r0 + c1) * 3 + k] * wx1;
                    int bot0 = src3[(r1 + c0) * 3 + k] * wx0 + src3[(r1 + c1) * 3 + k] * wx1;
                    // < 2^30 in total: the sum fits in an int, as the spec says
                    int v = (top0 * wy0 + bot0 * wy1 + (1 << 21)) >> 22;
                    out[outRow + x * 3 + k] = (byte) v;
                }
            }
        }
    }

    /** Taps of output positions start .. start + count - 1 of an nSrc -&gt; nOut resize. */
    private static void taps(int nSrc, int nOut, int start, int[] i0, int[] i1, int[] a) {
        for (int j = 0; j < i0.length; j++) {
            long pos = start + j;
            long s = ((2 * pos + 1) * nSrc * 65536L) / (2L * nOut) - 32768L;
            s = Math.min(Math.max(s, 0L), (nSrc - 1) * 65536L);
            int lo = (int) (s >> 16);
            i0[j] = lo;
            i1[j] = Math.min(lo + 1, nSrc - 1);
            a[j] = (int) ((s & 0xFFFF) >> 5);
        }
    }

    /** Sorted distinct values of a and b (all in [0, n)); index[v] = position of v. */
    private static int[] distinct(int[] a, int[] b, int n, int[] index) {
        boolean[] used = new boolean[n];
        for (int v : a) {
            used[v] = true;
        }
        for (int v : b) {
            used[v] = true;
        }
        int count = 0;
        for (int v = 0; v < n; v++) {
            if (used[v]) {
                index[v] = count++;
            }
        }
        int[] out = new int[count];
        for (int v = 0; v < n; v++) {
            if (used[v]) {
                out[index[v]] = v;
            }
        }
        return out;
    }

    /**
     * Quantises unsigned RGB bytes (a whole clip, (T, H, W, 3) order) into an integer input
     * tensor: {@code q = clamp(rint(p / scale) + zeroPoint, qmin, qmax)}, float32 arithmetic.
     */
    public static void quantize(byte[] rgb, TensorSpec input, byte[] out) {
        if (input.isFloat() || input.bytesPerElement() != 1) {
            throw new KvidException(input.name + ": quantize() writes 8-bit tensors; this input is " + input.dtype);
        }
        if (out.length != rgb.length) {
            throw new KvidException(input.name + ": " + rgb.length + " pixel values for a tensor of " + out.length + " bytes");
        }
        float scale = (float) input.scale;
        int zp = input.zeroPoint;
        int qmin = input.qmin();
        int qmax = input.qmax();
        // 256 possible pixel values: build the table once.
        byte[] table = new byte[256];
        for (int p = 0; p < 256; p++) {
            float r = (float) Math.rint((float) p / scale);
            long q = (long) r + zp;
            q = Math.max(qmin, Math.min(qmax, q));
            table[p] = (byte) q;
        }
        for (int i = 0; i < rgb.length; i++) {
            out[i] = table[rgb[i] & 0xFF];
        }
    }

    /** Unsigned RGB bytes as float32 raw pixels 0..255 (for float32 exports). */
    public static void toFloat(byte[] rgb, float[] out) {
        for (int i = 0; i < rgb.length; i++) {
            out[i] = rgb[i] & 0xFF;
        }
    }
}
