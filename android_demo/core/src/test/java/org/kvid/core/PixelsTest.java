package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.ByteBuffer;

import org.junit.Test;

/** The pixel sources: rotation, RGBA camera buffers with strides, YUV 4:2:0 planes. */
public class PixelsTest {

    /** A w x h frame whose pixel (x, y) encodes x and y. */
    private static Frame coded(int w, int h) {
        int[] px = new int[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                px[y * w + x] = 0xFF000000 | x << 8 | y;
            }
        }
        return new Frame(px, w, h);
    }

    private static int[] read(Pixels p) {
        int[] out = new int[p.width() * p.height()];
        for (int y = 0; y < p.height(); y++) {
            for (int x = 0; x < p.width(); x++) {
                out[y * p.width() + x] = p.pixel(x, y);
            }
        }
        return out;
    }

    @Test
    public void rotationIsClockwise() {
        Frame f = coded(3, 2); // rows: (0,0) (1,0) (2,0) / (0,1) (1,1) (2,1)
        Pixels r = Rotated.of(f, 90);
        assertEquals(2, r.width());
        assertEquals(3, r.height());
        // clockwise: the bottom-left source pixel (0, 1) comes to the top-left
        assertEquals(0xFF000001, r.pixel(0, 0));
        assertEquals(0xFF000000, r.pixel(1, 0));
        assertEquals(0xFF000201, r.pixel(0, 2));
        Pixels r180 = Rotated.of(f, 180);
        assertEquals(0xFF000201, r180.pixel(0, 0));
        Pixels r270 = Rotated.of(f, -90);
        assertEquals(0xFF000200, r270.pixel(0, 0));
        assertTrue(Rotated.of(f, 360) == f);
        // four quarter turns are the identity, for a square frame too
        Frame sq = coded(4, 4);
        assertArrayEquals(read(sq), read(new Rotated(new Rotated(new Rotated(new Rotated(sq, 90), 90), 90), 90)));
        assertArrayEquals(read(Rotated.of(sq, 180)), read(new Rotated(new Rotated(sq, 90), 90)));
        try {
            Rotated.of(f, 45);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage().contains("45"));
        }
    }

    @Test
    public void rgbaBufferWithPaddedRows() {
        int w = 3;
        int h = 2;
        int rowStride = 16;
        ByteBuffer b = ByteBuffer.allocateDirect(rowStride * h);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int o = y * rowStride + x * 4;
                b.put(o, (byte) (10 * x + y));
                b.put(o + 1, (byte) 200);
                b.put(o + 2, (byte) (250 - y));
                b.put(o + 3, (byte) 7); // alpha: ignored
            }
        }
        Pixels p = new RgbaPixels(b, w, h, rowStride, 4);
        assertEquals(0xFF000000 | 21 << 16 | 200 << 8 | 249, p.pixel(2, 1));
        assertEquals(0, b.position());
        try {
            new RgbaPixels(b, w, 3, rowStride, 4);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("needs"));
        }
    }

    @Test
    public void yuvHandChecked() {
        // black, white, and a pure-ish red in limited range
        assertEquals(0xFF000000, Yuv420.limited(16, 0, 0));
        assertEquals(0xFFFFFFFF, Yuv420.limited(235, 0, 0));
        assertEquals(0xFF000000, Yuv420.limited(0, 0, 0)); // below 16 clamps to black
        int red = Yuv420.limited(81, 90 - 128, 240 - 128);
        assertTrue(red + "", (red >> 16 & 0xFF) >= 250);
        assertTrue((red >> 8 & 0xFF) < 3 && (red & 0xFF) < 3);
        assertEquals(0xFF000000, Yuv420.full(0, 0, 0));
        assertEquals(0xFFFFFFFF, Yuv420.full(255, 0, 0));
        assertEquals(0xFF808080, Yuv420.full(128, 0, 0));
    }

    @Test
    public void fullRangeIsTheBt601MatrixToWithinOneLevel() {
        for (int y = 0; y < 256; y += 5) {
            for (int u = -128; u < 128; u += 9) {
                for (int v = -128; v < 128; v += 11) {
                    int p = Yuv420.full(y, u, v);
                    double[] exp = {y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u};
                    int[] got = {p >> 16 & 0xFF, p >> 8 & 0xFF, p & 0xFF};
                    for (int c = 0; c < 3; c++) {
                        double e = Math.max(0, Math.min(255, exp[c]));
                        assertTrue(y + "," + u + "," + v + " channel " + c + ": " + got[c] + " vs " + e, Math.abs(got[c] - e) <= 1.0);
                    }
                }
            }
        }
    }

    @Test
    public void planarAndSemiPlanarLayoutsReadTheSameSamples() {
        int w = 5;
        int h = 3;
        int cw = 3;
        int ch = 2;
        byte[] yp = new byte[w * h];
        byte[] up = new byte[cw * ch];
        byte[] vp = new byte[cw * ch];
        for (int i = 0; i < yp.length; i++) {
            yp[i] = (byte) (20 + 13 * i);
        }
        for (int i = 0; i < up.length; i++) {
            up[i] = (byte) (60 + 31 * i);
            vp[i] = (byte) (200 - 27 * i);
        }
        Yuv420 planar = new Yuv420(ByteBuffer.wrap(yp), w, 1, ByteBuffer.wrap(up), cw, 1, ByteBuffer.wrap(vp), cw, 1,
                0, 0, w, h, false);
        // NV12: interleaved U V; the U and V "planes" are views of it with pixel stride 2
        byte[] uv = new byte[cw * ch * 2];
        for (int i = 0; i < up.length; i++) {
            uv[2 * i] = up[i];
            uv[2 * i + 1] = vp[i];
        }
        ByteBuffer uvBuf = ByteBuffer.wrap(uv);
        ByteBuffer vBuf = ByteBuffer.wrap(uv, 1, uv.length - 1).slice();
        Yuv420 nv12 = new Yuv420(ByteBuffer.wrap(yp), w, 1, uvBuf, cw * 2, 2, vBuf, cw * 2, 2, 0, 0, w, h, false);
        assertArrayEquals(read(planar), read(nv12));
        // pixel (3, 2): luma sample 2 * 5 + 3, chroma sample (1, 1) = 1 * 3 + 1
        assertEquals(Yuv420.limited((20 + 13 * 13) & 0xFF, ((60 + 31 * 4) & 0xFF) - 128, ((200 - 27 * 4) & 0xFF) - 128),
                planar.pixel(3, 2));
        // a crop window starting at an odd column reads the chroma of the coded column
        Yuv420 cropped = new Yuv420(ByteBuffer.wrap(yp), w, 1, ByteBuffer.wrap(up), cw, 1, ByteBuffer.wrap(vp), cw, 1,
                1, 1, 4, 2, false);
        assertEquals(planar.pixel(1, 1), cropped.pixel(0, 0));
        assertEquals(planar.pixel(4, 2), cropped.pixel(3, 1));
    }
}
