package org.kvid.core;

/**
 * The video-level score of a plain model: the mean of its views' dequantised logits (every clip
 * x crop), then softmax and top-k - what {@code kvid predict} computes
 * ({@code VideoClassifier.predict_views}: {@code np.stack(logits).mean(axis=0)}, float32: the
 * views summed in order, then divided by their count). The golden vectors check the bits.
 */
public final class VideoScores {
    private final float[] sum;
    private int count;

    public VideoScores(int classes) {
        if (classes < 1) {
            throw new KvidException("classes=" + classes + ": must be at least 1");
        }
        sum = new float[classes];
    }

    /** Adds one view's scores (dequantised logits). */
    public void add(float[] scores) {
        if (scores.length != sum.length) {
            throw new KvidException(scores.length + " scores for a video of " + sum.length + " classes");
        }
        for (int i = 0; i < sum.length; i++) {
            sum[i] += scores[i];
        }
        count++;
    }

    public int count() {
        return count;
    }

    /** The mean over the views added so far. */
    public float[] mean() {
        if (count == 0) {
            throw new KvidException("no view scores to average");
        }
        float[] out = new float[sum.length];
        float n = count;
        for (int i = 0; i < out.length; i++) {
            out[i] = sum[i] / n;
        }
        return out;
    }
}
