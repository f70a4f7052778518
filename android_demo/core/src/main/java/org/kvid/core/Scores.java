package org.kvid.core;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Model output to named predictions: dequantisation (as kvid.runtime does it,
 * {@code (float32(q) - zeroPoint) * float32(scale)}), softmax and top-k.
 *
 * <p>Top-k orders by score, highest first; equal scores (frequent with int8 logits) keep the
 * lower class index first - the order of a stable descending sort, which the Python side
 * ({@code export.android_assets}) uses as well.
 */
public final class Scores {
    private Scores() {
    }

    /** One class of a prediction. */
    public static final class Prediction {
        public final int index;
        public final String label;
        /** The dequantised logit. */
        public final float score;
        /** Softmax probability over all classes. */
        public final double probability;

        public Prediction(int index, String label, float score, double probability) {
            this.index = index;
            this.label = label;
            this.score = score;
            this.probability = probability;
        }

        @Override
        public String toString() {
            return label + " " + String.format(java.util.Locale.ROOT, "%.1f%%", probability * 100.0);
        }
    }

    /** Dequantises 8-bit values: {@code (q - zeroPoint) * scale} in float32. */
    public static float[] dequantize(byte[] q, TensorSpec spec) {
        if (spec.isFloat() || spec.bytesPerElement() != 1) {
            throw new KvidException(spec.name + ": dequantize() reads 8-bit tensors; this one is " + spec.dtype);
        }
        boolean unsigned = "uint8".equals(spec.dtype);
        float scale = (float) spec.scale;
        float[] out = new float[q.length];
        for (int i = 0; i < q.length; i++) {
            int v = unsigned ? (q[i] & 0xFF) : q[i];
            out[i] = ((float) v - spec.zeroPoint) * scale;
        }
        return out;
    }

    /** Reads an output tensor from {@code buf} (from its position, in its byte order) as float scores. */
    public static float[] read(ByteBuffer buf, TensorSpec spec) {
        int n = spec.elementCount();
        if (buf.remaining() < spec.byteSize()) {
            throw new KvidException(spec.name + ": " + buf.remaining() + " bytes for an output of " + spec.byteSize());
        }
        if (spec.isFloat()) {
            float[] out = new float[n];
            for (int i = 0; i < n; i++) {
                out[i] = buf.getFloat();
            }
            return out;
        }
        if (spec.bytesPerElement() != 1) {
            throw new KvidException(spec.name + ": output dtype " + spec.dtype + " is not supported (int8, uint8 or float32)");
        }
        byte[] q = new byte[n];
        buf.get(q);
        return dequantize(q, spec);
    }

    /** Softmax in double precision (max-subtracted). */
    public static double[] softmax(float[] logits) {
        if (logits.length == 0) {
            throw new KvidException("softmax of an empty score vector");
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double[] out = new double[logits.length];
        double sum = 0.0;
        for (int i = 0; i < logits.length; i++) {
            out[i] = Math.exp((double) logits[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= sum;
        }
        return out;
    }

    /** Indices of the {@code k} highest scores (k clipped to the class count), best first, ties by index. */
    public static int[] topK(float[] scores, int k) {
        int n = Math.min(k, scores.length);
        int[] best = new int[n];
        boolean[] taken = new boolean[scores.length];
        for (int r = 0; r < n; r++) {
            int arg = -1;
            for (int i = 0; i < scores.length; i++) {
                if (taken[i]) {
                    continue;
                }
                // strictly greater: an equal later score never displaces an earlier index
                if (arg < 0 || scores[i] > scores[arg] || (Float.isNaN(scores[arg]) && !Float.isNaN(scores[i]))) {
                    arg = i;
                }
            }
            taken[arg] = true;
            best[r] = arg;
        }
        return best;
    }

    /** The top-k predictions of a score vector, with labels and softmax probabilities. */
    public static List<Prediction> top(float[] scores, List<String> labels, int k) {
        if (labels.size() != scores.length) {
            throw new KvidException(scores.length + " scores but " + labels.size() + " labels");
        }
        double[] p = softmax(scores);
        int[] idx = topK(scores, k);
        List<Prediction> out = new ArrayList<Prediction>(idx.length);
        for (int i : idx) {
            out.add(new Prediction(i, labels.get(i), scores[i], p[i]));
        }
        return out;
    }
}
