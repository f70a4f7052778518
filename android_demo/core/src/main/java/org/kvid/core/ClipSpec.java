package org.kvid.core;

import java.util.Map;

/**
 * The test-time clip protocol of a model: which frames make a clip (scheme, T, stride, window),
 * how many clips per video (N), and which spatial views of each clip (1 or 3 crops of
 * {@code crop x crop} after resizing the short side to {@code resize}). Every view (clip k, crop
 * c) is one model run; a plain model's video score is the mean of the views' dequantised logits
 * ({@link VideoScores}), as {@code kvid predict} computes it.
 *
 * <p>Read from either sidecar version (docs/INTERFACES.md):
 * <ul>
 * <li>version 2: one object {@code "clip": {"scheme", "frames", "stride", "window", "clips",
 *     "crops", "resize", "crop", "scale", "flip"}}; {@code scale} and {@code flip} are training
 *     only and ignored here;</li>
 * <li>version 1: {@code "sampling": {"scheme", "stride", "clips", "window"}} and
 *     {@code "crop": {"mode": "center", "resize", "crop"}} (always one centre crop).</li>
 * </ul>
 *
 * <p>Scheme {@code random_rate} (EAC-Net: trained at a random frame rate) samples at test time
 * exactly as {@code segments} (T frames evenly over the whole video), so {@link #sampling()}
 * maps it there; {@link #scheme} keeps the sidecar's name for display.
 */
public final class ClipSpec {
    /** Schemes a sidecar may name. */
    public static final String[] SCHEMES = {"segments", "dense", "consecutive", "random_rate"};
    /** The fields of a version-2 {@code "clip"} object (kvid.contract.clip.FIELDS). */
    public static final String[] FIELDS = {"scheme", "frames", "stride", "window", "clips", "crops", "resize", "crop",
        "scale", "flip"};

    /** The scheme as the sidecar names it. */
    public final String scheme;
    public final int frames;
    public final int stride;
    /** K of the consecutive scheme, or null for its default T * stride. */
    public final Integer window;
    public final int clips;
    /** 1 (the centre view) or 3 (centre, then both ends of the long side). */
    public final int crops;
    /** The test-time short side. */
    public final int resize;
    public final int crop;

    public ClipSpec(String scheme, int frames, int stride, Integer window, int clips, int crops, int resize, int crop) {
        if (!known(scheme)) {
            throw new KvidException("scheme \"" + scheme + "\" is unknown (choose from segments, dense, consecutive, random_rate)");
        }
        if (crops != 1 && crops != 3) {
            throw new KvidException("crops=" + crops + ": the app takes 1 (centre) or 3 (centre and both ends) test views");
        }
        if (crop < 1 || resize < crop) {
            throw new KvidException("resize=" + resize + ", crop=" + crop + ": resize must be at least crop (>= 1)");
        }
        this.scheme = scheme;
        this.frames = frames;
        this.stride = stride;
        this.window = window;
        this.clips = clips;
        this.crops = crops;
        this.resize = resize;
        this.crop = crop;
        sampling(); // validates frames, stride, clips, window
    }

    private static boolean known(String scheme) {
        for (String s : SCHEMES) {
            if (s.equals(scheme)) {
                return true;
            }
        }
        return false;
    }

    /** The scheme the frame indices follow at test time ({@code random_rate} samples as {@code segments}). */
    public String testScheme() {
        return "random_rate".equals(scheme) ? "segments" : scheme;
    }

    /** The test-time frame sampler of this protocol. */
    public Sampling sampling() {
        return new Sampling(testScheme(), frames, stride, clips, window);
    }

    /** The same protocol with another clip length and clip count (FASTER: N clips of L frames). */
    public ClipSpec withClips(int newFrames, int newClips) {
        return new ClipSpec(scheme, newFrames, stride, window, newClips, crops, resize, crop);
    }

    /** Model runs per video: clips x crops. */
    public int views() {
        return clips * crops;
    }

    public Preprocessor preprocessor() {
        return new Preprocessor(resize, crop);
    }

    /** e.g. "dense x2 stride, 3 clips x 3 crops, short side 73, crop 64". */
    public String describe() {
        StringBuilder sb = new StringBuilder(scheme);
        if (!"segments".equals(testScheme())) {
            sb.append(", stride ").append(stride);
        }
        if (window != null) {
            sb.append(", window ").append(window);
        }
        sb.append(", ").append(clips).append(clips == 1 ? " clip" : " clips");
        sb.append(" x ").append(crops).append(crops == 1 ? " crop" : " crops");
        sb.append(", short side ").append(resize).append(", crop ").append(crop);
        return sb.toString();
    }

    /**
     * The clip protocol of a parsed sidecar object of {@code version} 1 or 2; {@code frames},
     * {@code height} and {@code width} are the sidecar's clip size, checked against it.
     */
    static ClipSpec fromSidecar(Map<String, Object> m, int version, int frames, int height, int width, String source) {
        ClipSpec spec;
        if (version >= 2) {
            spec = fromV2(Json.asObject(Json.require(m, "clip", source), source + ": clip"), source + ": clip");
            // a FASTER sidecar's clip protocol is checked against its "faster" block instead
            if (m.get("faster") == null && spec.frames != frames) {
                throw new KvidException(source + ": clip.frames " + spec.frames + " does not match frames " + frames);
            }
        } else {
            spec = fromV1(m, frames, source);
        }
        if (spec.crop != height || spec.crop != width) {
            throw new KvidException(source + ": " + (version >= 2 ? "clip.crop " : "crop.crop ") + spec.crop
                    + " does not match height x width " + height + "x" + width);
        }
        return spec;
    }

    private static ClipSpec fromV2(Map<String, Object> c, String what) {
        for (String key : c.keySet()) {
            boolean known = false;
            for (String f : FIELDS) {
                known |= f.equals(key);
            }
            if (!known) {
                throw new KvidException(what + ": unknown field \"" + key + "\" (known: "
                        + java.util.Arrays.toString(FIELDS) + ")");
            }
        }
        String scheme = Json.asString(Json.require(c, "scheme", what), what + ".scheme");
        int frames = Json.asInt(Json.require(c, "frames", what), what + ".frames");
        int stride = c.get("stride") == null ? 1 : Json.asInt(c.get("stride"), what + ".stride");
        Integer window = c.get("window") == null ? null : Integer.valueOf(Json.asInt(c.get("window"), what + ".window"));
        int clips = c.get("clips") == null ? 1 : Json.asInt(c.get("clips"), what + ".clips");
        int crops = c.get("crops") == null ? 1 : Json.asInt(c.get("crops"), what + ".crops");
        int crop = Json.asInt(Json.require(c, "crop", what), what + ".crop");
        int resize = Json.asInt(Json.require(c, "resize", what), what + ".resize");
        // "scale" and "flip" describe training augmentation; test views ignore them, but a value
        // of the wrong type still means a broken file.
        if (c.get("scale") != null && Json.asIntArray(c.get("scale"), what + ".scale").length != 2) {
            throw new KvidException(what + ".scale: expected [a, b] or null");
        }
        if (c.get("flip") != null && !(c.get("flip") instanceof Boolean)) {
            throw new KvidException(what + ".flip: expected true or false, found " + Json.describe(c.get("flip")));
        }
        return build(scheme, frames, stride, window, clips, crops, resize, crop, what);
    }

    private static ClipSpec fromV1(Map<String, Object> m, int frames, String source) {
        String what = source + ": sampling";
        Map<String, Object> s = Json.asObject(Json.require(m, "sampling", source), what);
        String scheme = Json.asString(Json.require(s, "scheme", what), what + ".scheme");
        int stride = s.get("stride") == null ? 1 : Json.asInt(s.get("stride"), what + ".stride");
        int clips = s.get("clips") == null ? 1 : Json.asInt(s.get("clips"), what + ".clips");
        Integer window = s.get("window") == null ? null : Integer.valueOf(Json.asInt(s.get("window"), what + ".window"));

        String cw = source + ": crop";
        Map<String, Object> c = Json.asObject(Json.require(m, "crop", source), cw);
        String mode = Json.asString(Json.require(c, "mode", cw), cw + ".mode");
        if (!"center".equals(mode)) {
            throw new KvidException(cw + ".mode \"" + mode + "\" is not supported (a version-1 sidecar has \"center\")");
        }
        int crop = Json.asInt(Json.require(c, "crop", cw), cw + ".crop");
        int resize = c.get("resize") == null ? Preprocessor.defaultResize(crop) : Json.asInt(c.get("resize"), cw + ".resize");
        if (resize < crop) {
            throw new KvidException(cw + ".resize " + resize + " is smaller than crop.crop " + crop);
        }
        try {
            new Sampling(scheme, frames, stride, clips, window);
        } catch (KvidException e) {
            throw new KvidException(what + ": " + e.getMessage());
        }
        return new ClipSpec(scheme, frames, stride, window, clips, 1, resize, crop);
    }

    private static ClipSpec build(String scheme, int frames, int stride, Integer window, int clips, int crops, int resize,
                                  int crop, String what) {
        try {
            return new ClipSpec(scheme, frames, stride, window, clips, crops, resize, crop);
        } catch (KvidException e) {
            throw new KvidException(what + ": " + e.getMessage());
        }
    }
}
