package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;

import org.junit.Test;

public class FasterTest {

    @Test
    public void patternsPutTheExpensiveClipsFirstInEveryPeriod() {
        assertEquals("ECCCECCC", new FasterScheduler(1, 3).schedule(8));
        assertEquals("EEEE", new FasterScheduler(1, 0).schedule(4));
        assertEquals("EECCEECCE", new FasterScheduler(2, 2).schedule(9));
        assertEquals("ECCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCE", new FasterScheduler(1, 31).schedule(33));
        assertTrue(new FasterScheduler(1, 7).isExpensive(0));
        try {
            new FasterScheduler(0, 3);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage().contains("0:3"));
        }
    }

    @Test
    public void requantizeMapsRealValues() {
        TensorSpec a = new TensorSpec("a", new int[] {3}, "int8", 0.5, 0);
        TensorSpec b = new TensorSpec("b", new int[] {3}, "int8", 0.25, -10);
        assertArrayEquals(new byte[] {-2, 127, -128}, FasterSession.requantize(new byte[] {4, 100, -128}, a, b));
        byte[] same = {1, 2, 3};
        assertArrayEquals(same, FasterSession.requantize(same, a, a));
    }

    private static TensorSpec t(String name, String dtype, double scale, int zp, int... shape) {
        return new TensorSpec(name, shape, dtype, scale, zp);
    }

    private static Sidecar.Faster faster(String init) {
        String json = "{\"format\":\"kvid-tflite-sidecar\",\"version\":1,\"labels\":[\"a\",\"b\",\"c\"],"
                + "\"frames\":4,\"height\":8,\"width\":8,\"sampling\":{\"scheme\":\"dense\",\"stride\":1,\"clips\":8},"
                + "\"crop\":{\"mode\":\"center\",\"resize\":9,\"crop\":8},"
                + "\"input\":{\"name\":\"clip\",\"shape\":[4,8,8,3],\"dtype\":\"int8\",\"scale\":1.0,\"zero_point\":-128},"
                + "\"output\":{\"name\":\"logits\",\"shape\":[1,3],\"dtype\":\"int8\",\"scale\":0.1,\"zero_point\":0},"
                + "\"faster\":{\"clip_frames\":4,\"clips\":8,\"pattern\":[1,3],\"expensive\":\"e.tflite\","
                + "\"cheap\":\"c.tflite\",\"step\":\"step.tflite\",\"state_shape\":[1,2]"
                + (init == null ? "" : ",\"state_init\":\"" + init + "\"") + "}}";
        return Sidecar.parse(json, "model.json").faster;
    }

    private static FasterSession.StepIo io() {
        return FasterSession.StepIo.resolve("step.tflite",
                Arrays.asList(t("feature", "int8", 0.5, 0, 1, 2), t("state_in", "int8", 0.5, 0, 1, 2)),
                Arrays.asList(t("state_out", "int8", 0.25, 0, 1, 2), t("logits", "int8", 0.1, 0, 1, 3)), 3);
    }

    @Test
    public void firstFeatureStartsTheStateAtX0() {
        FasterSession s = new FasterSession(faster(null), t("e", "int8", 0.5, 0, 1, 2), t("c", "int8", 1.0, 0, 1, 2), io());
        assertNull(s.state());
        assertTrue(s.nextIsExpensive());
        FasterSession.StepInput in0 = s.stepInput(new byte[] {2, 4}, true);
        assertArrayEquals(new byte[] {2, 4}, in0.feature);
        assertArrayEquals(new byte[] {2, 4}, in0.state); // o_0 = x_0
        float[] logits = s.finishStep(new byte[] {8, 8}, new byte[] {10, 20, 30});
        assertArrayEquals(new float[] {10 * 0.1f, 20 * 0.1f, 30 * 0.1f}, logits, 0f);
        assertArrayEquals("clip 0's step state is not kept", new byte[] {2, 4}, s.state());

        assertFalse(s.nextIsExpensive());
        try {
            s.stepInput(new byte[] {3, 5}, true);
            fail("clip 1 of 1:3 is cheap");
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("cheap"));
        }
        FasterSession.StepInput in1 = s.stepInput(new byte[] {3, 5}, false);
        assertArrayEquals("cheap feature requantised 1.0 -> 0.5", new byte[] {6, 10}, in1.feature);
        assertArrayEquals(new byte[] {2, 4}, in1.state);
        s.finishStep(new byte[] {8, 12}, new byte[] {0, 0, 0});
        assertArrayEquals("state requantised 0.25 -> 0.5", new byte[] {4, 6}, s.state());
        assertEquals(2, s.clipIndex());

        s.reset();
        assertEquals(0, s.clipIndex());
        assertNull(s.state());
        assertTrue(s.nextIsExpensive());
    }

    @Test
    public void zerosCarriesEveryStepState() {
        FasterSession s = new FasterSession(faster("zeros"), t("e", "int8", 0.5, 0, 1, 2), t("c", "int8", 0.5, 0, 1, 2),
                FasterSession.StepIo.resolve("step.tflite",
                        Arrays.asList(t("x", "int8", 0.5, 0, 1, 2), t("state", "int8", 0.5, 7, 1, 2)),
                        Arrays.asList(t("logits", "int8", 0.1, 0, 1, 3), t("new_state", "int8", 0.5, 7, 1, 2)), 3));
        FasterSession.StepInput in0 = s.stepInput(new byte[] {2, 4}, true);
        assertArrayEquals(new byte[] {7, 7}, in0.state);
        s.finishStep(new byte[] {9, 11}, new byte[] {1, 2, 3});
        assertArrayEquals(new byte[] {9, 11}, s.state());
    }

    @Test
    public void stepIoFallsBackToTheDocumentedOrder() {
        FasterSession.StepIo io = FasterSession.StepIo.resolve("step.tflite",
                Arrays.asList(t("serving_default_x:0", "int8", 1, 0, 1, 2), t("serving_default_y:0", "int8", 1, 0, 1, 2)),
                Arrays.asList(t("StatefulPartitionedCall:0", "int8", 1, 0, 1, 2), t("StatefulPartitionedCall:1", "int8", 1, 0, 1, 3)), 3);
        assertEquals(0, io.featureInput);
        assertEquals(1, io.stateInput);
        assertEquals(0, io.stateOutput);
        assertEquals(1, io.logitsOutput);
        try {
            FasterSession.StepIo.resolve("step.tflite",
                    Arrays.asList(t("a", "int8", 1, 0, 1, 2), t("b", "int8", 1, 0, 1, 2)),
                    Arrays.asList(t("c", "int8", 1, 0, 1, 2), t("d", "int8", 1, 0, 1, 4)), 3);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("3 labels"));
        }
    }

    @Test
    public void featureSizesMustFitTheStep() {
        try {
            new FasterSession(faster(null), t("e", "int8", 0.5, 0, 1, 5), t("c", "int8", 1.0, 0, 1, 2), io());
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("e.tflite: feature [1,5]"));
        }
    }
}
