package org.kvid.core;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Builds the model's input tensor (T, H, W, 3) from T frames: each frame through
 * {@link Preprocessor#view} (the centre view, or view c of 3), stacked in time order, then
 * quantised for 8-bit inputs or written as float32 raw pixels for float exports.
 */
public final class ClipInput {
    private final Preprocessor pre;
    private final TensorSpec input;
    private final int frames;

    public ClipInput(Preprocessor pre, TensorSpec input) {
        if (input.shape.length != 4 || input.shape[1] != pre.crop || input.shape[2] != pre.crop || input.shape[3] != 3) {
            throw new KvidException(input.name + ": input shape " + TensorSpec.shapeString(input.shape)
                    + " is not (T, " + pre.crop + ", " + pre.crop + ", 3)");
        }
        this.pre = pre;
        this.input = input;
        this.frames = input.shape[0];
    }

    public static ClipInput of(Sidecar sidecar) {
        return new ClipInput(Preprocessor.of(sidecar), sidecar.input);
    }

    public int frames() {
        return frames;
    }

    public Preprocessor preprocessor() {
        return pre;
    }

    /** A fresh buffer for a preprocessed clip: T * crop * crop * 3 unsigned RGB bytes. */
    public byte[] newRgbClip() {
        return new byte[frames * pre.frameBytes()];
    }

    /** Preprocesses the centre view of {@code frame} into slot {@code t} of {@code rgbClip}. */
    public void putFrame(byte[] rgbClip, int t, Pixels frame) {
        putView(rgbClip, t, frame, 1, 0);
    }

    /** Preprocesses view {@code view} of {@code crops} of {@code frame} into slot {@code t} of {@code rgbClip}. */
    public void putView(byte[] rgbClip, int t, Pixels frame, int crops, int view) {
        if (t < 0 || t >= frames) {
            throw new KvidException("frame slot " + t + ": the clip has " + frames + " frames");
        }
        pre.view(frame, crops, view, rgbClip, t * pre.frameBytes());
    }

    /** The preprocessed RGB clip (centre view) of exactly T frames. */
    public byte[] rgbClip(List<? extends Pixels> clipFrames) {
        return rgbClip(clipFrames, 1, 0);
    }

    /** The preprocessed RGB clip of view {@code view} of {@code crops} of exactly T frames. */
    public byte[] rgbClip(List<? extends Pixels> clipFrames, int crops, int view) {
        if (clipFrames.size() != frames) {
            throw new KvidException("clip of " + clipFrames.size() + " frames: the model takes " + frames);
        }
        byte[] rgb = newRgbClip();
        for (int t = 0; t < frames; t++) {
            putView(rgb, t, clipFrames.get(t), crops, view);
        }
        return rgb;
    }

    /** The exact bytes of an 8-bit input tensor for a preprocessed clip. */
    public byte[] quantized(byte[] rgbClip) {
        byte[] out = new byte[rgbClip.length];
        Preprocessor.quantize(rgbClip, input, out);
        return out;
    }

    /**
     * Writes the input tensor for {@code rgbClip} into {@code dst} (from its position, in its
     * byte order; size {@link TensorSpec#byteSize()}): quantised bytes for int8/uint8 models,
     * float32 raw pixels 0..255 for float models.
     */
    public void writeTensor(byte[] rgbClip, ByteBuffer dst) {
        if (dst.remaining() < input.byteSize()) {
            throw new KvidException(input.name + ": buffer of " + dst.remaining() + " bytes for a tensor of " + input.byteSize());
        }
        if (rgbClip.length != input.elementCount()) {
            throw new KvidException(input.name + ": " + rgbClip.length + " values for a tensor of " + input.elementCount());
        }
        if (input.isFloat()) {
            for (int i = 0; i < rgbClip.length; i++) {
                dst.putFloat(rgbClip[i] & 0xFF);
            }
        } else if (input.bytesPerElement() == 1) {
            dst.put(quantized(rgbClip));
        } else {
            throw new KvidException(input.name + ": input dtype " + input.dtype + " is not supported (int8, uint8 or float32)");
        }
    }
}
