package org.kvid.core;

/**
 * Test-time frame-index sampling, identical to {@code kvid.data.sampling.sample_indices(...,
 * training=False)} (docs/INTERFACES.md, "Sampling"). Every formula below repeats the Python
 * arithmetic operation by operation in float64, so the indices are equal, not just close;
 * the golden-vector tests compare them with Python's.
 *
 * <ul>
 * <li>{@code segments}: {@code seg = n / T}; index i of clip k of N =
 *     {@code min(int(seg * i + seg * (k + 0.5) / N), n - 1)}.</li>
 * <li>{@code dense}: {@code span = (T - 1) * stride + 1}; starts
 *     {@code int(round(k * (n - span) / (N - 1)))} (N == 1: {@code (n - span) // 2}), round half
 *     to even; videos shorter than span loop: {@code (i * stride) % n}.</li>
 * <li>{@code consecutive}: window {@code K} (default T * stride, at most n) placed like dense,
 *     frames {@code start + min(int((i + 0.5) * K / T), K - 1)}.</li>
 * </ul>
 */
public final class Sampling {
    public final String scheme;
    public final int frames;
    public final int stride;
    public final int clips;
    /** K of the consecutive scheme, or null for the default T * stride. */
    public final Integer window;

    public Sampling(String scheme, int frames, int stride, int clips, Integer window) {
        if (!"segments".equals(scheme) && !"dense".equals(scheme) && !"consecutive".equals(scheme)) {
            throw new KvidException("scheme \"" + scheme + "\" is unknown (choose from segments, dense, consecutive)");
        }
        check("frames", frames, 1);
        check("stride", stride, 1);
        check("clips", clips, 1);
        if (window != null) {
            check("window", window.intValue(), 1);
        }
        this.scheme = scheme;
        this.frames = frames;
        this.stride = stride;
        this.clips = clips;
        this.window = window;
    }

    /** The same scheme with another clip length and clip count (FASTER: L frames, N clips). */
    public Sampling with(int newFrames, int newClips) {
        return new Sampling(scheme, newFrames, stride, newClips, window);
    }

    private static void check(String name, int value, int minimum) {
        if (value < minimum) {
            throw new KvidException(name + "=" + value + ": must be at least " + minimum);
        }
    }

    /** Frame indices of clip {@code clipIndex} (of {@link #clips}) of a {@code numFrames}-frame video. */
    public int[] indices(int numFrames, int clipIndex) {
        if (numFrames < 1) {
            throw new KvidException("num_frames=" + numFrames + ": the video has no frames");
        }
        if (clipIndex < 0 || clipIndex >= clips) {
            throw new KvidException("clip_index=" + clipIndex + ": must be in [0, " + clips + ")");
        }
        int[] out = new int[frames];
        if ("segments".equals(scheme)) {
            double seg = (double) numFrames / frames;
            for (int i = 0; i < frames; i++) {
                double v = seg * i + seg * (clipIndex + 0.5) / clips;
                out[i] = Math.min((int) v, numFrames - 1);
            }
            return out;
        }
        if ("dense".equals(scheme)) {
            int span = (frames - 1) * stride + 1;
            if (numFrames < span) {
                for (int i = 0; i < frames; i++) {
                    out[i] = (int) (((long) i * stride) % numFrames);
                }
                return out;
            }
            int start = windowStart(numFrames, span, clipIndex);
            for (int i = 0; i < frames; i++) {
                out[i] = start + i * stride;
            }
            return out;
        }
        // consecutive
        int k = window == null ? frames * stride : window.intValue();
        k = Math.min(k, numFrames);
        int start = windowStart(numFrames, k, clipIndex);
        for (int i = 0; i < frames; i++) {
            int offset = (int) ((i + 0.5) * k / frames);
            out[i] = start + Math.min(offset, k - 1);
        }
        return out;
    }

    /** All clips: {@code result[k]} = {@link #indices(int, int)} of clip k. */
    public int[][] allIndices(int numFrames) {
        int[][] out = new int[clips][];
        for (int k = 0; k < clips; k++) {
            out[k] = indices(numFrames, k);
        }
        return out;
    }

    private int windowStart(int numFrames, int span, int clipIndex) {
        int free = numFrames - span; // >= 0
        if (clips == 1) {
            return free / 2; // floor division of a non-negative int
        }
        long numerator = (long) clipIndex * free; // Python int arithmetic: exact
        return (int) Math.rint((double) numerator / (clips - 1));
    }

    /**
     * Presentation time, in microseconds, of frame {@code index} of a constant-rate video of
     * {@code fps} frames per second: what MediaMetadataRetriever.getFrameAtTime is asked for
     * when a device cannot fetch frames by index. Frame i is shown from i / fps on, so the
     * middle of its display interval, (i + 0.5) / fps, lies closest to frame i whichever way the
     * decoder rounds.
     */
    public static long timestampUs(int index, double fps) {
        if (!(fps > 0)) {
            throw new KvidException("fps=" + fps + ": must be positive");
        }
        return (long) Math.floor((index + 0.5) * 1e6 / fps);
    }

    /**
     * How many milliseconds apart live camera frames should be taken so that a clip spans
     * what this scheme spans in a video of {@code nominalFps}: dense and consecutive clips take
     * every stride-th frame; segments (TSN) spread T frames over {@code segmentsSpanSeconds}.
     */
    public double liveFrameIntervalMs(double nominalFps, double segmentsSpanSeconds) {
        if ("segments".equals(scheme)) {
            return segmentsSpanSeconds * 1000.0 / frames;
        }
        if ("consecutive".equals(scheme)) {
            int k = window == null ? frames * stride : window.intValue();
            return (double) k / frames * 1000.0 / nominalFps;
        }
        return stride * 1000.0 / nominalFps;
    }
}
