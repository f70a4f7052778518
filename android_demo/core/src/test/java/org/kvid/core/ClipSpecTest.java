package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

/** Sidecar version 2's "clip" object, and version 1 read into the same ClipSpec. */
public class ClipSpecTest {

    /** The version-2 form of SidecarTest.EXAMPLE, with 3 clips x 3 crops. */
    static final String V2 = SidecarTest.EXAMPLE
            .replace("\"version\": 1", "\"version\": 2")
            .replace("  \"sampling\": {\"scheme\": \"dense\", \"stride\": 2, \"clips\": 1},\n"
                    + "  \"crop\": {\"mode\": \"center\", \"resize\": 73, \"crop\": 64},\n",
                    "  \"clip\": {\"scheme\": \"dense\", \"frames\": 8, \"stride\": 2, \"window\": null, \"clips\": 3,"
                    + " \"crops\": 3, \"resize\": 64, \"crop\": 64, \"scale\": [64, 80], \"flip\": false},\n");

    private static void expectError(String json, String... fragments) {
        SidecarTest.expectError(json, fragments);
    }

    @Test
    public void versionTwoCarriesTheWholeProtocol() {
        assertTrue("the replacement happened", V2.contains("\"clip\""));
        Sidecar s = Sidecar.parse(V2, "m.json");
        assertEquals(2, s.version);
        ClipSpec c = s.clip;
        assertEquals("dense", c.scheme);
        assertEquals(8, c.frames);
        assertEquals(2, c.stride);
        assertNull(c.window);
        assertEquals(3, c.clips);
        assertEquals(3, c.crops);
        assertEquals(64, c.resize);
        assertEquals(64, c.crop);
        assertEquals(9, c.views());
        assertEquals(s.clip, s.videoSpec());
        assertArrayEquals(new int[] {0, 2, 4, 6, 8, 10, 12, 14}, c.sampling().indices(100, 0));
        assertEquals("dense, stride 2, 3 clips x 3 crops, short side 64, crop 64", c.describe());
    }

    @Test
    public void versionOneIsOneCentreCrop() {
        Sidecar s = Sidecar.parse(SidecarTest.EXAMPLE, "m.json");
        assertEquals(1, s.clip.crops);
        assertEquals(1, s.clip.clips);
        assertEquals(73, s.clip.resize);
        assertEquals("dense", s.clip.testScheme());
    }

    @Test
    public void randomRateSamplesAsSegmentsAtTestTime() {
        Sidecar s = Sidecar.parse(V2.replace("\"scheme\": \"dense\"", "\"scheme\": \"random_rate\""), "m.json");
        assertEquals("random_rate", s.clip.scheme);
        assertEquals("segments", s.clip.testScheme());
        assertArrayEquals(new Sampling("segments", 8, 2, 3, null).indices(100, 1), s.clip.sampling().indices(100, 1));
    }

    @Test
    public void problemsAreNamed() {
        expectError(V2.replace("\"crops\": 3", "\"crops\": 10"), "clip", "crops=10");
        expectError(V2.replace("\"scheme\": \"dense\"", "\"scheme\": \"random\""), "clip", "random");
        expectError(V2.replace("\"resize\": 64", "\"resize\": 60"), "clip", "resize=60");
        expectError(V2.replace("\"frames\": 8, \"stride\"", "\"frames\": 4, \"stride\""), "clip.frames 4");
        expectError(V2.replace("\"crop\": 64, \"scale\"", "\"crop\": 56, \"scale\""), "clip.crop 56");
        expectError(V2.replace("\"resize\": 64, ", ""), "missing \"resize\"");
        expectError(V2.replace("\"flip\": false", "\"flip\": 1"), "clip.flip");
        expectError(V2.replace("\"clips\": 3,", "\"clips\": 0,"), "clips=0");
        // a version-2 file without "clip" (e.g. a v1 body with the version bumped)
        expectError(SidecarTest.EXAMPLE.replace("\"version\": 1", "\"version\": 2"), "missing \"clip\"");
    }

    @Test
    public void fasterRunsOneCrop() {
        String faster = V2.replace("\"faster\": null", "\"faster\": {\"clip_frames\": 8, \"clips\": 4, \"pattern\": [1, 3], "
                + "\"expensive\": \"e.tflite\", \"cheap\": \"c.tflite\", \"step\": \"m.tflite\", "
                + "\"states\": [{\"name\": \"state\", \"shape\": [1, 2], \"dtype\": \"int8\", \"scale\": 0.02, \"zero_point\": 0}]}");
        expectError(faster, "FASTER", "one crop");
        Sidecar s = Sidecar.parse(faster.replace("\"crops\": 3", "\"crops\": 1"), "m.json");
        assertEquals(4, s.videoSpec().clips);
        assertEquals(8, s.videoSpec().frames);
    }
}
