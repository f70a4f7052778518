package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

import org.junit.Test;

public class ScoresTest {

    @Test
    public void dequantizeAsTheRuntimeDoes() {
        TensorSpec out = new TensorSpec("logits", new int[] {1, 3}, "int8", 0.1, 3);
        float[] s = Scores.dequantize(new byte[] {13, 3, -128}, out);
        assertEquals(1.0f, s[0], 0.0f);
        assertEquals(0.0f, s[1], 0.0f);
        assertEquals((-131f) * 0.1f, s[2], 0.0f);
    }

    @Test
    public void readsFloatOutputs() {
        TensorSpec out = new TensorSpec("logits", new int[] {1, 2}, "float32", 0, 0);
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        b.putFloat(1.5f).putFloat(-2f).flip();
        assertArrayEquals(new float[] {1.5f, -2f}, Scores.read(b, out), 0f);
    }

    @Test
    public void softmaxOfKnownValues() {
        double[] p = Scores.softmax(new float[] {0f, (float) Math.log(3.0)});
        assertEquals(0.25, p[0], 1e-7);
        assertEquals(0.75, p[1], 1e-7);
        double[] big = Scores.softmax(new float[] {1000f, 1000f});
        assertEquals(0.5, big[0], 1e-15);
    }

    @Test
    public void topKBreaksTiesByLowerIndex() {
        float[] s = {1f, 3f, 3f, 2f, 3f};
        assertArrayEquals(new int[] {1, 2, 4, 3, 0}, Scores.topK(s, 5));
        assertArrayEquals(new int[] {1, 2}, Scores.topK(s, 2));
        assertArrayEquals(new int[] {1, 2, 4, 3, 0}, Scores.topK(s, 9));
    }

    @Test
    public void topPredictionsCarryLabels() {
        List<String> labels = Arrays.asList("a", "b", "c");
        List<Scores.Prediction> top = Scores.top(new float[] {0f, 2f, 1f}, labels, 5);
        assertEquals(3, top.size());
        assertEquals("b", top.get(0).label);
        assertEquals("c", top.get(1).label);
        assertEquals(1.0, top.get(0).probability + top.get(1).probability + top.get(2).probability, 1e-12);
    }

    @Test(expected = KvidException.class)
    public void labelCountMustMatch() {
        Scores.top(new float[] {0f, 1f}, Arrays.asList("a", "b", "c"), 5);
    }
}
