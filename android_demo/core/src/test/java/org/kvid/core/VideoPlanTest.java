package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.List;

import org.junit.Test;

public class VideoPlanTest {

    private static Frame frame(int w, int h, int seed) {
        int[] px = new int[w * h];
        for (int i = 0; i < px.length; i++) {
            px[i] = 0xFF000000 | ((i * 7 + seed * 31) & 0xFF) << 16 | ((i * 3 + seed) & 0xFF) << 8 | ((seed * 11 + i) & 0xFF);
        }
        return new Frame(px, w, h);
    }

    @Test
    public void eachFrameIsDecodedOnceAndFillsEveryViewThatUsesIt() {
        // 3 overlapping dense clips of 4 frames (stride 2) x 3 crops in an 11-frame video
        ClipSpec spec = new ClipSpec("dense", 4, 2, null, 3, 3, 16, 12);
        VideoPlan plan = new VideoPlan(spec, 11);
        assertEquals(9, plan.views());
        assertArrayEquals(new int[] {0, 2, 4, 6}, plan.indices(0));
        assertArrayEquals(new int[] {2, 4, 6, 8}, plan.indices(1));
        assertArrayEquals(new int[] {4, 6, 8, 10}, plan.indices(2));
        assertArrayEquals(new int[] {0, 2, 4, 6, 8, 10}, plan.frames());
        assertTrue(plan.wants(8));
        assertFalse(plan.wants(7));
        assertEquals(2, plan.clipOf(7));
        assertEquals(1, plan.cropOf(7));

        ClipInput input = new ClipInput(spec.preprocessor(), new TensorSpec("clip", new int[] {4, 12, 12, 3}, "int8", 1, -128));
        List<Frame> video = new ArrayList<Frame>();
        for (int i = 0; i < 11; i++) {
            video.add(frame(20, 15, i));
        }
        byte[][] views = plan.newViewClips(input);
        int filled = 0;
        for (int i : plan.frames()) {
            filled += plan.place(i, video.get(i), input, views);
        }
        assertEquals("every (clip, slot) x crop", 3 * 4 * 3, filled);
        assertEquals(0, plan.place(7, video.get(7), input, views));
        // each view equals the clip built directly from its frames
        for (int v = 0; v < plan.views(); v++) {
            List<Frame> clip = new ArrayList<Frame>();
            for (int i : plan.indices(plan.clipOf(v))) {
                clip.add(video.get(i));
            }
            assertArrayEquals("view " + v, input.rgbClip(clip, 3, plan.cropOf(v)), views[v]);
        }
        // the three crops of a landscape frame differ (centre, left end, right end)
        assertFalse(java.util.Arrays.equals(views[0], views[1]));
        assertFalse(java.util.Arrays.equals(views[1], views[2]));
    }

    @Test
    public void threeCropOriginsFollowKvid() {
        Preprocessor p = new Preprocessor(64, 64);
        // landscape 240x320 -> 64x85: centre (0, 10), left end (0, 0), right end (0, 21)
        assertArrayEquals(new int[][] {{0, 10}, {0, 0}, {0, 21}}, p.viewOrigins(240, 320, 3));
        // portrait: along the height
        assertArrayEquals(new int[][] {{10, 0}, {0, 0}, {21, 0}}, p.viewOrigins(320, 240, 3));
        try {
            p.viewOrigins(240, 320, 5);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage().contains("crops=5"));
        }
    }

    @Test
    public void videoScoresAreTheFloat32MeanOfTheViews() {
        VideoScores s = new VideoScores(3);
        s.add(new float[] {1f, 2f, 3f});
        s.add(new float[] {0.1f, 0.2f, 0.3f});
        s.add(new float[] {0.2f, 0.2f, 0.2f});
        float[] m = s.mean();
        assertEquals(3, s.count());
        assertEquals(((1f + 0.1f) + 0.2f) / 3f, m[0], 0f);
        assertEquals(((3f + 0.3f) + 0.2f) / 3f, m[2], 0f);
        try {
            new VideoScores(3).mean();
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage().contains("no view"));
        }
    }
}
