package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class PreprocessorTest {

    private static int argb(int r, int g, int b) {
        return 0xFF000000 | (r << 16) | (g << 8) | b;
    }

    @Test
    public void resizedShapeMatchesPython() {
        // values from kvid.data.transforms.resized_shape
        assertArrayEquals(new int[] {73, 97}, Preprocessor.resizedShape(240, 320, 73));
        assertArrayEquals(new int[] {97, 73}, Preprocessor.resizedShape(320, 240, 73));
        assertArrayEquals(new int[] {73, 120}, Preprocessor.resizedShape(37, 61, 73));
        assertArrayEquals(new int[] {256, 455}, Preprocessor.resizedShape(1080, 1920, 256));
        assertArrayEquals(new int[] {120, 73}, Preprocessor.resizedShape(61, 37, 73));
    }

    @Test
    public void defaultResizeIsRoundCropTimesEightSevenths() {
        assertEquals(73, Preprocessor.defaultResize(64));
        assertEquals(256, Preprocessor.defaultResize(224));
        assertEquals(37, Preprocessor.defaultResize(32));
        assertEquals(128, Preprocessor.defaultResize(112));
    }

    @Test
    public void sameSizeIsTheIdentityInRgbOrder() {
        int n = 16;
        int[] px = new int[n * n];
        byte[] expected = new byte[n * n * 3];
        for (int i = 0; i < px.length; i++) {
            int r = (i * 7) & 0xFF;
            int g = (i * 13 + 5) & 0xFF;
            int b = (255 - i) & 0xFF;
            px[i] = (0x12 << 24) | (r << 16) | (g << 8) | b; // alpha is ignored
            expected[i * 3] = (byte) r;
            expected[i * 3 + 1] = (byte) g;
            expected[i * 3 + 2] = (byte) b;
        }
        Preprocessor p = new Preprocessor(n, n);
        byte[] out = new byte[p.frameBytes()];
        p.centerView(px, n, n, out, 0);
        assertArrayEquals(expected, out);
    }

    @Test
    public void uniformFramesStayUniformAtAnySize() {
        int[][] sizes = {{333, 250}, {45, 71}, {1920, 1080}, {64, 64}, {2, 3}};
        for (int[] s : sizes) {
            int w = s[0];
            int h = s[1];
            int[] px = new int[w * h];
            java.util.Arrays.fill(px, argb(10, 200, 77));
            Preprocessor p = new Preprocessor(73, 64);
            byte[] out = new byte[p.frameBytes() + 5];
            p.centerView(px, w, h, out, 5);
            for (int i = 0; i < 64 * 64; i++) {
                assertEquals(10, out[5 + i * 3] & 0xFF);
                assertEquals(200, out[5 + i * 3 + 1] & 0xFF);
                assertEquals(77, out[5 + i * 3 + 2] & 0xFF);
            }
        }
    }

    @Test
    public void kvidInt8InputIsPixelMinus128() {
        TensorSpec in = new TensorSpec("clip", new int[] {1, 1, 1, 3}, "int8", 1.0, -128);
        byte[] out = new byte[3];
        Preprocessor.quantize(new byte[] {0, (byte) 128, (byte) 255}, in, out);
        assertArrayEquals(new byte[] {-128, 0, 127}, out);
    }

    @Test
    public void otherQuantisationRoundsHalfToEvenAndClamps() {
        TensorSpec u8 = new TensorSpec("clip", new int[] {1, 1, 1, 4}, "uint8", 2.0, 3);
        byte[] out = new byte[4];
        Preprocessor.quantize(new byte[] {1, 3, (byte) 255, 0}, u8, out);
        assertArrayEquals(new int[] {3, 5, 131, 3}, new int[] {out[0] & 0xFF, out[1] & 0xFF, out[2] & 0xFF, out[3] & 0xFF});
        TensorSpec i8 = new TensorSpec("clip", new int[] {1, 1, 1, 2}, "int8", 0.5, 0);
        byte[] o2 = new byte[2];
        Preprocessor.quantize(new byte[] {100, 20}, i8, o2);
        assertArrayEquals(new byte[] {127, 40}, o2);
    }
}
