package org.kvid.core;

/**
 * The live-camera clip: a sliding window over the last T accepted frames, each kept already
 * preprocessed (crop x crop x 3 RGB bytes), so a camera frame is resized once however many clips
 * it ends up in.
 *
 * <p>Frames are accepted at most every {@code minIntervalMs} (camera frames arrive at the
 * camera's rate, or slower when the analyzer drops them under keep-latest backpressure; the
 * interval makes a clip span about what it spans in a video, see
 * {@link Sampling#liveFrameIntervalMs}). A clip is due when the window is full and {@code hop}
 * frames have arrived since the previous clip: hop 1 is a sliding window (a prediction per
 * accepted frame), hop T gives back-to-back clips (what FASTER's clip sequence needs).
 */
public final class ClipWindow {
    private final int frames;
    private final int frameBytes;
    private final int hop;
    private final double minIntervalMs;
    private final byte[][] ring;
    private int next;          // ring slot of the next frame
    private int count;         // frames in the ring (<= frames)
    private int sinceClip;     // frames accepted since the last clip was taken
    private double lastAcceptedMs = Double.NaN;

    public ClipWindow(int frames, int frameBytes, int hop, double minIntervalMs) {
        if (frames < 1 || frameBytes < 1) {
            throw new KvidException("clip window of " + frames + " frames x " + frameBytes + " bytes: must be positive");
        }
        if (hop < 1 || hop > frames) {
            throw new KvidException("hop=" + hop + ": must be in [1, " + frames + "]");
        }
        this.frames = frames;
        this.frameBytes = frameBytes;
        this.hop = hop;
        this.minIntervalMs = Math.max(0.0, minIntervalMs);
        this.ring = new byte[frames][frameBytes];
        this.sinceClip = 0;
    }

    /** Whether a frame taken at {@code timestampMs} would be accepted (check before preprocessing it). */
    public boolean wants(double timestampMs) {
        return Double.isNaN(lastAcceptedMs) || timestampMs - lastAcceptedMs >= minIntervalMs
                || timestampMs < lastAcceptedMs; // clock went back (restarted camera): accept
    }

    /**
     * Offers one preprocessed frame. Returns false (and keeps nothing) when it arrives sooner
     * than the interval after the last accepted one.
     */
    public boolean push(byte[] frameRgb, double timestampMs) {
        if (frameRgb.length != frameBytes) {
            throw new KvidException("frame of " + frameRgb.length + " bytes for a window of " + frameBytes + "-byte frames");
        }
        if (!wants(timestampMs)) {
            return false;
        }
        System.arraycopy(frameRgb, 0, ring[next], 0, frameBytes);
        accept(timestampMs);
        return true;
    }

    /**
     * Offers one frame, preprocessed straight into the window's ring slot (no per-frame buffer):
     * the centre view of {@code frame} through {@code pre}. Returns false (and reads nothing)
     * when the frame arrives sooner than the interval after the last accepted one.
     */
    public boolean push(Pixels frame, Preprocessor pre, double timestampMs) {
        if (pre.frameBytes() != frameBytes) {
            throw new KvidException("a preprocessor of " + pre.frameBytes() + "-byte frames for a window of "
                    + frameBytes + "-byte frames");
        }
        if (!wants(timestampMs)) {
            return false;
        }
        pre.centerView(frame, ring[next], 0);
        accept(timestampMs);
        return true;
    }

    private void accept(double timestampMs) {
        lastAcceptedMs = timestampMs;
        next = (next + 1) % frames;
        if (count < frames) {
            count++;
        }
        sinceClip++;
    }

    /** True when the window is full and {@code hop} new frames arrived since the last clip. */
    public boolean clipDue() {
        return count == frames && sinceClip >= hop;
    }

    /** Copies the window, oldest frame first, into {@code rgbClip} (T * frameBytes) and marks the clip taken. */
    public void takeClip(byte[] rgbClip) {
        if (count < frames) {
            throw new KvidException("clip window holds " + count + " of " + frames + " frames");
        }
        if (rgbClip.length != frames * frameBytes) {
            throw new KvidException("clip buffer of " + rgbClip.length + " bytes, expected " + (frames * frameBytes));
        }
        for (int t = 0; t < frames; t++) {
            int slot = (next + t) % frames; // next is the oldest once the ring is full
            System.arraycopy(ring[slot], 0, rgbClip, t * frameBytes, frameBytes);
        }
        sinceClip = 0;
    }

    public int size() {
        return count;
    }

    /** Forgets all frames (camera switched, model changed). */
    public void clear() {
        next = 0;
        count = 0;
        sinceClip = 0;
        lastAcceptedMs = Double.NaN;
    }
}
