package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.junit.Test;

/** Hand-checked cases of the test-time formulas (the golden test compares with Python at scale). */
public class SamplingTest {

    @Test
    public void segmentsTakeTheMiddleOfEachSegment() {
        Sampling s = new Sampling("segments", 8, 1, 1, null);
        assertArrayEquals(new int[] {6, 18, 31, 43, 56, 68, 81, 93}, s.indices(100, 0));
    }

    @Test
    public void segmentsStretchShortVideosInOrder() {
        Sampling s = new Sampling("segments", 8, 1, 1, null);
        assertArrayEquals(new int[] {0, 0, 1, 2, 2, 3, 4, 4}, s.indices(5, 0));
    }

    @Test
    public void segmentsWithTwoClipsShiftWithinTheSegment() {
        Sampling s = new Sampling("segments", 8, 1, 2, null);
        assertArrayEquals(new int[] {9, 21, 34, 46, 59, 71, 84, 96}, s.indices(100, 1));
    }

    @Test
    public void denseCentredClip() {
        Sampling s = new Sampling("dense", 8, 2, 1, null);
        assertArrayEquals(new int[] {42, 44, 46, 48, 50, 52, 54, 56}, s.indices(100, 0));
    }

    @Test
    public void denseClipStartsRoundHalfToEven() {
        Sampling s = new Sampling("dense", 8, 2, 3, null);
        int[][] all = s.allIndices(100);
        assertEquals(0, all[0][0]);
        assertEquals(42, all[1][0]); // 42.5 rounds to the even 42, as Python's round()
        assertEquals(85, all[2][0]);
        assertEquals(99, all[2][7]);
    }

    @Test
    public void denseLoopsShortVideos() {
        Sampling s = new Sampling("dense", 8, 2, 1, null);
        assertArrayEquals(new int[] {0, 2, 4, 6, 8, 0, 2, 4}, s.indices(10, 0));
    }

    @Test
    public void consecutiveWindows() {
        assertArrayEquals(new int[] {48, 49, 50, 51}, new Sampling("consecutive", 4, 1, 1, null).indices(100, 0));
        assertArrayEquals(new int[] {45, 48, 51, 54}, new Sampling("consecutive", 4, 1, 1, 12).indices(100, 0));
        assertArrayEquals(new int[] {0, 2, 3, 5}, new Sampling("consecutive", 4, 1, 1, 12).indices(6, 0));
    }

    @Test
    public void everyIndexIsAFrameOfTheVideo() {
        String[] schemes = {"segments", "dense", "consecutive"};
        for (String scheme : schemes) {
            for (int clips = 1; clips <= 4; clips++) {
                Sampling s = new Sampling(scheme, 7, 3, clips, null);
                for (int n = 1; n < 80; n++) {
                    for (int[] clip : s.allIndices(n)) {
                        assertEquals(7, clip.length);
                        for (int i : clip) {
                            assertTrue(scheme + " n=" + n + ": " + i, i >= 0 && i < n);
                        }
                    }
                }
            }
        }
    }

    @Test
    public void badArgumentsAreErrors() {
        try {
            new Sampling("random", 8, 1, 1, null);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("random"));
        }
        Sampling s = new Sampling("dense", 8, 1, 2, null);
        try {
            s.indices(100, 2);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("clip_index=2"));
        }
        try {
            s.indices(0, 0);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no frames"));
        }
    }

    @Test
    public void timestampsAimAtTheMiddleOfTheFrame() {
        assertEquals(116666L, Sampling.timestampUs(3, 30.0));
        assertEquals(20000L, Sampling.timestampUs(0, 25.0));
    }

    @Test
    public void liveIntervalFollowsTheScheme() {
        assertEquals(2000.0 / 30.0, new Sampling("dense", 8, 2, 1, null).liveFrameIntervalMs(30.0, 4.0), 1e-9);
        assertEquals(500.0, new Sampling("segments", 8, 1, 1, null).liveFrameIntervalMs(30.0, 4.0), 1e-9);
    }
}
