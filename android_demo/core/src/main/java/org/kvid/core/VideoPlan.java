package org.kvid.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What one video needs from the decoder, and where each decoded frame goes: the frame indices of
 * every clip ({@link ClipSpec#sampling()}), the sorted distinct frames to decode (so a decoder
 * visits each wanted frame once, in order, in a single forward pass), and for each of them the
 * view slots it fills - view {@code v} is clip {@code v / crops}, crop {@code v % crops}
 * (clip-major, as {@code kvid.data.clips.load_views}).
 */
public final class VideoPlan {
    public final ClipSpec spec;
    public final int numFrames;
    private final int[][] clipIndices;
    private final int[] frames;
    /** uses[j] = {clip, slot, clip, slot, ...} of frames[j]. */
    private final int[][] uses;

    public VideoPlan(ClipSpec spec, int numFrames) {
        this.spec = spec;
        this.numFrames = numFrames;
        Sampling s = spec.sampling();
        clipIndices = s.allIndices(numFrames);
        int[] all = new int[spec.clips * spec.frames];
        for (int k = 0; k < spec.clips; k++) {
            System.arraycopy(clipIndices[k], 0, all, k * spec.frames, spec.frames);
        }
        Arrays.sort(all);
        int n = 0;
        for (int i = 0; i < all.length; i++) {
            if (i == 0 || all[i] != all[i - 1]) {
                all[n++] = all[i];
            }
        }
        frames = Arrays.copyOf(all, n);
        List<List<Integer>> lists = new ArrayList<List<Integer>>(n);
        for (int j = 0; j < n; j++) {
            lists.add(new ArrayList<Integer>());
        }
        for (int k = 0; k < spec.clips; k++) {
            for (int t = 0; t < spec.frames; t++) {
                List<Integer> l = lists.get(Arrays.binarySearch(frames, clipIndices[k][t]));
                l.add(k);
                l.add(t);
            }
        }
        uses = new int[n][];
        for (int j = 0; j < n; j++) {
            List<Integer> l = lists.get(j);
            uses[j] = new int[l.size()];
            for (int i = 0; i < l.size(); i++) {
                uses[j][i] = l.get(i);
            }
        }
    }

    public int views() {
        return spec.views();
    }

    public int clipOf(int view) {
        return view / spec.crops;
    }

    public int cropOf(int view) {
        return view % spec.crops;
    }

    /** Frame indices of clip {@code clip}. */
    public int[] indices(int clip) {
        return clipIndices[clip].clone();
    }

    /** The distinct frames to decode, ascending. */
    public int[] frames() {
        return frames.clone();
    }

    public boolean wants(int frameIndex) {
        return Arrays.binarySearch(frames, frameIndex) >= 0;
    }

    /** Fresh buffers for every view's preprocessed clip ({@link #views()} of them). */
    public byte[][] newViewClips(ClipInput input) {
        byte[][] out = new byte[views()][];
        for (int v = 0; v < out.length; v++) {
            out[v] = input.newRgbClip();
        }
        return out;
    }

    /**
     * Puts decoded frame {@code frameIndex} into every view slot that uses it: each of its crops
     * is computed once and copied to the other clips that share the frame. Returns how many
     * slots were filled (0 for a frame the plan does not need).
     */
    public int place(int frameIndex, Pixels frame, ClipInput input, byte[][] viewClips) {
        int j = Arrays.binarySearch(frames, frameIndex);
        if (j < 0) {
            return 0;
        }
        if (viewClips.length != views()) {
            throw new KvidException(viewClips.length + " view buffers for a plan of " + views() + " views");
        }
        int fb = input.preprocessor().frameBytes();
        int[] u = uses[j];
        for (int c = 0; c < spec.crops; c++) {
            int firstView = u[0] * spec.crops + c;
            int firstSlot = u[1];
            input.putView(viewClips[firstView], firstSlot, frame, spec.crops, c);
            for (int i = 2; i < u.length; i += 2) {
                int view = u[i] * spec.crops + c;
                System.arraycopy(viewClips[firstView], firstSlot * fb, viewClips[view], u[i + 1] * fb, fb);
            }
        }
        return u.length / 2 * spec.crops;
    }
}
