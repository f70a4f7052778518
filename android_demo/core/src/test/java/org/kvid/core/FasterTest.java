package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.Test;

public class FasterTest {

    @Test
    public void patternsPutTheExpensiveClipsFirstInEveryPeriod() {
        assertEquals("ECCCECCC", new FasterScheduler(1, 3).schedule(8));
        assertEquals("EEEE", new FasterScheduler(1, 0).schedule(4));
        assertEquals("CCC", new FasterScheduler(0, 1).schedule(3));
        assertEquals("EECCEECCE", new FasterScheduler(2, 2).schedule(9));
        assertEquals("ECCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCE", new FasterScheduler(1, 31).schedule(33));
        try {
            new FasterScheduler(0, 0);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage().contains("0:0"));
        }
    }

    @Test
    public void controlVectorAsTheRuntimeBuildsIt() {
        assertArrayEquals(new float[] {1f, 0f, 1f, 0f, 1f, 0f}, FasterSession.controlVector(0, true), 0f);
        assertArrayEquals(new float[] {0f, 1f, 0f, 1f, 0.25f, 0.75f}, FasterSession.controlVector(3, false), 0f);
        assertEquals((float) (1.0 / 3), FasterSession.controlVector(2, false)[4], 0f);
        assertEquals((float) (1.0 - 1.0 / 3), FasterSession.controlVector(2, false)[5], 0f);
    }

    @Test
    public void requantizeMapsRealValues() {
        TensorSpec a = t("a", 0.5, 0, 3);
        TensorSpec b = t("b", 0.25, -10, 3);
        assertArrayEquals(new byte[] {-2, 127, -128}, FasterSession.requantize(new byte[] {4, 100, -128}, a, b));
        byte[] same = {1, 2, 3};
        assertArrayEquals(same, FasterSession.requantize(same, a, a));
        // 3 / 2 = 1.5 and 5 / 2 = 2.5 both round to the even 2
        assertArrayEquals(new byte[] {-128, 127, -126, -126}, FasterSession.encode(new float[] {-1000f, 1000f, 3f, 5f}, t("c", 2.0, -128, 4)));
    }

    private static TensorSpec t(String name, double scale, int zp, int... shape) {
        return new TensorSpec(name, shape, "int8", scale, zp);
    }

    private static final String SIDECAR = "{\"format\":\"kvid-tflite-sidecar\",\"version\":1,\"labels\":[\"a\",\"b\",\"c\"],"
            + "\"frames\":4,\"height\":8,\"width\":8,\"sampling\":{\"scheme\":\"dense\",\"stride\":1,\"clips\":8},"
            + "\"crop\":{\"mode\":\"center\",\"resize\":9,\"crop\":8},"
            + "\"input\":{\"name\":\"clip\",\"shape\":[4,8,8,3],\"dtype\":\"int8\",\"scale\":1.0,\"zero_point\":-128},"
            + "\"output\":{\"name\":\"logits\",\"shape\":[1,3],\"dtype\":\"int8\",\"scale\":0.1,\"zero_point\":0},"
            + "\"faster\":{\"clip_frames\":4,\"clips\":8,\"pattern\":[1,3],\"expensive\":\"m_expensive.tflite\","
            + "\"cheap\":\"m_cheap.tflite\",\"step\":\"m.tflite\",\"aggregator\":\"fastgru\",\"state_shape\":[1,1,2,1],"
            + "\"states\":[{\"name\":\"state\",\"shape\":[1,1,2,1],\"dtype\":\"int8\",\"scale\":0.5,\"zero_point\":3}],"
            + "\"feature\":{\"name\":\"feature\",\"shape\":[1,1,2,1],\"dtype\":\"int8\",\"scale\":0.5,\"zero_point\":0},"
            + "\"control\":[\"first\",\"keep\",\"expensive\",\"cheap\",\"weight\",\"decay\"]}}";

    static Sidecar.Faster faster() {
        return Sidecar.parse(SIDECAR, "m.json").faster;
    }

    static FasterSession.StepIo io(TensorSpec stateOut) {
        Map<String, TensorSpec> in = new HashMap<String, TensorSpec>();
        in.put("feature", t("feature", 0.5, 0, 1, 1, 2, 1));
        in.put("state", t("state", 0.5, 3, 1, 1, 2, 1));
        in.put("control", t("control", 1.0 / 255, -128, 1, 1, 1, 6));
        Map<String, TensorSpec> out = new HashMap<String, TensorSpec>();
        out.put("state", stateOut);
        out.put("logits", t("logits", 0.1, 0, 1, 3));
        return FasterSession.StepIo.fromSignature("m.tflite", in, out, Arrays.asList("state"), 3);
    }

    @Test
    public void aSessionCarriesTheStateAndFeedsTheControlVector() {
        FasterSession s = new FasterSession(faster(), t("e", 0.5, 0, 1, 2, 1, 1), t("c", 1.0, 0, 1, 2, 1, 1),
                io(t("state", 0.25, 0, 1, 1, 2, 1)));
        assertArrayEquals("states start at real zero", new byte[] {3, 3}, s.state("state"));
        assertTrue(s.nextIsExpensive());
        Map<String, byte[]> in0 = s.stepInputs(new byte[] {2, 4}, true);
        assertArrayEquals(new byte[] {2, 4}, in0.get("feature"));
        assertArrayEquals(new byte[] {3, 3}, in0.get("state"));
        // control (1, 0, 1, 0, 1, 0) / (1/255) - 128
        assertArrayEquals(new byte[] {127, -128, 127, -128, 127, -128}, in0.get("control"));
        Map<String, byte[]> out = new LinkedHashMap<String, byte[]>();
        out.put("state", new byte[] {8, 12});
        float[] logits = s.finishStep(out, new float[] {1f, 2f, 3f});
        assertArrayEquals(new float[] {1f, 2f, 3f}, logits, 0f);
        assertArrayEquals("state requantised 0.25 -> (0.5, zp 3)", new byte[] {7, 9}, s.state("state"));

        assertFalse(s.nextIsExpensive());
        try {
            s.stepInputs(new byte[] {3, 5}, true);
            fail("clip 1 of 1:3 is cheap");
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("cheap"));
        }
        Map<String, byte[]> in1 = s.stepInputs(new byte[] {3, 5}, false);
        assertArrayEquals("cheap feature requantised 1.0 -> 0.5", new byte[] {6, 10}, in1.get("feature"));
        assertArrayEquals(new byte[] {7, 9}, in1.get("state"));
        s.finishStep(out, new float[3]);
        assertEquals(2, s.clipIndex());

        s.reset();
        assertEquals(0, s.clipIndex());
        assertArrayEquals(new byte[] {3, 3}, s.state("state"));
        assertTrue(s.nextIsExpensive());
    }

    @Test
    public void liveWindowsRestartTheSequence() {
        FasterSession s = new FasterSession(faster(), t("e", 0.5, 0, 1, 2, 1, 1), t("c", 1.0, 0, 1, 2, 1, 1),
                io(t("state", 0.5, 3, 1, 1, 2, 1)));
        // kvid's control input (scale 1/255, zero point -128): 1/(t+1) rounds to 0 from t = 509 on
        // (1/510 * 255 = 0.5 rounds half to even, to 0)
        assertEquals(509, FasterSession.weightVanishesAt(t("control", 1.0 / 255, -128, 1, 1, 1, 6)));
        assertEquals(Integer.MAX_VALUE, FasterSession.weightVanishesAt(
                new TensorSpec("control", new int[] {1, 1, 1, 6}, "float32", 0, 0)));
        s.setWindow(100000);
        assertEquals("capped where the weight vanishes", 509, s.window());
        s.setWindow(3);
        Map<String, byte[]> out = new LinkedHashMap<String, byte[]>();
        out.put("state", new byte[] {8, 12});
        String seen = "";
        for (int k = 0; k < 7; k++) {
            boolean e = s.nextIsExpensive();
            seen += e ? 'E' : 'C';
            Map<String, byte[]> in = s.stepInputs(new byte[] {1, 1}, e);
            if (s.clipIndex() == 0) {
                assertArrayEquals("a window starts from the zero state", new byte[] {3, 3}, in.get("state"));
                assertEquals("first = 1 at the start of every window", 127, in.get("control")[0]);
            } else {
                assertArrayEquals("within a window the state is carried", new byte[] {8, 12}, in.get("state"));
            }
            s.finishStep(out, new float[3]);
        }
        assertEquals("ECCECCE", seen);
        assertEquals(2, s.windowsDone());
        assertEquals(1, s.clipIndex());
        s.reset();
        assertEquals(0, s.windowsDone());
    }

    @Test
    public void stepSignatureIsChecked() {
        Map<String, TensorSpec> in = new HashMap<String, TensorSpec>();
        in.put("feature", t("feature", 0.5, 0, 1, 2));
        in.put("control", t("control", 1.0 / 255, -128, 1, 1, 1, 6));
        Map<String, TensorSpec> out = new HashMap<String, TensorSpec>();
        out.put("state", t("state", 0.5, 0, 1, 2));
        out.put("logits", t("logits", 0.1, 0, 1, 3));
        try {
            FasterSession.StepIo.fromSignature("m.tflite", in, out, Arrays.asList("state"), 3);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("m.tflite: the step model has no input \"state\""));
        }
        in.put("state", t("state", 0.5, 0, 1, 2));
        try {
            FasterSession.StepIo.fromSignature("m.tflite", in, out, Arrays.asList("state"), 4);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("4 labels"));
        }
    }

    @Test
    public void modelsMustFitTheStepAndTheSidecar() {
        try {
            new FasterSession(faster(), t("e", 0.5, 0, 1, 5), t("c", 1.0, 0, 1, 2), io(t("state", 0.25, 0, 1, 1, 2, 1)));
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("m_expensive.tflite: feature [1,5]"));
        }
        Sidecar.Faster other = Sidecar.parse(SIDECAR.replace("\"scale\":0.5,\"zero_point\":3", "\"scale\":0.5,\"zero_point\":4"),
                "m.json").faster;
        try {
            new FasterSession(other, t("e", 0.5, 0, 1, 2), t("c", 1.0, 0, 1, 2), io(t("state", 0.25, 0, 1, 1, 2, 1)));
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("m.tflite: state state is"));
        }
    }
}
