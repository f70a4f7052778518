package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class ClipWindowTest {

    private static byte[] f(int v) {
        return new byte[] {(byte) v, (byte) (v + 1)};
    }

    @Test
    public void slidingWindowOldestFirst() {
        ClipWindow w = new ClipWindow(3, 2, 1, 10.0);
        assertTrue(w.push(f(0), 0));
        assertFalse("too soon", w.push(f(50), 5));
        assertTrue(w.push(f(10), 10));
        assertFalse(w.clipDue());
        assertTrue(w.push(f(20), 20));
        assertTrue(w.clipDue());
        byte[] clip = new byte[6];
        w.takeClip(clip);
        assertArrayEquals(new byte[] {0, 1, 10, 11, 20, 21}, clip);
        assertFalse(w.clipDue());
        assertTrue(w.push(f(30), 30));
        assertTrue(w.clipDue());
        w.takeClip(clip);
        assertArrayEquals(new byte[] {10, 11, 20, 21, 30, 31}, clip);
    }

    @Test
    public void hopTGivesBackToBackClips() {
        ClipWindow w = new ClipWindow(2, 2, 2, 0.0);
        byte[] clip = new byte[4];
        w.push(f(0), 0);
        w.push(f(1), 1);
        assertTrue(w.clipDue());
        w.takeClip(clip);
        w.push(f(2), 2);
        assertFalse(w.clipDue());
        w.push(f(3), 3);
        assertTrue(w.clipDue());
        w.takeClip(clip);
        assertArrayEquals(new byte[] {2, 3, 3, 4}, clip);
        w.clear();
        assertEquals(0, w.size());
        assertFalse(w.clipDue());
    }

    @Test
    public void framesArePreprocessedStraightIntoTheWindow() {
        Preprocessor pre = new Preprocessor(4, 4);
        ClipWindow w = new ClipWindow(2, pre.frameBytes(), 2, 0.0);
        int[] a = new int[6 * 4];
        int[] b = new int[6 * 4];
        java.util.Arrays.fill(a, 0xFF102030);
        java.util.Arrays.fill(b, 0xFF405060);
        assertTrue(w.push(new Frame(a, 6, 4), pre, 0));
        assertTrue(w.push(Rotated.of(new Frame(b, 6, 4), 90), pre, 1));
        assertTrue(w.clipDue());
        byte[] clip = new byte[2 * pre.frameBytes()];
        w.takeClip(clip);
        assertEquals(0x10, clip[0]);
        assertEquals(0x30, clip[pre.frameBytes() - 1]);
        assertEquals(0x40, clip[pre.frameBytes()]);
        try {
            w.push(new Frame(a, 6, 4), new Preprocessor(5, 5), 2);
            org.junit.Assert.fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage().contains("byte frames"));
        }
    }
}
