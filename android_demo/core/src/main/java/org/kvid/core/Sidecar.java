package org.kvid.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The model sidecar {@code F.json} written by {@code kvid export} beside {@code F.tflite}
 * (docs/INTERFACES.md, "Model file sidecar"): labels, clip size, the test-time clip protocol
 * ({@link ClipSpec}: sampling, clips, crops), and the input/output quantisation. Everything the
 * app needs to turn a video into the model's input tensors and their outputs into named scores.
 *
 * <p>Versions 1 ({@code "sampling"} + {@code "crop"}) and 2 (one {@code "clip"} object) are read.
 */
public final class Sidecar {
    public static final String FORMAT = "kvid-tflite-sidecar";
    /** The newest sidecar version this core reads (it reads 1 as well). */
    public static final int VERSION = 2;
    public static final int OLDEST_VERSION = 1;

    /** Where this sidecar came from (a file or asset name), used in error messages. */
    public final String source;
    public final String kvidVersion;
    public final String model;
    public final List<String> labels;
    /** T, H, W of one clip. */
    public final int frames;
    public final int height;
    public final int width;
    /** The sidecar's version (1 or 2). */
    public final int version;
    /** The test-time clip protocol (for FASTER: one clip of L frames; see {@link #videoSpec()}). */
    public final ClipSpec clip;
    public final TensorSpec input;
    public final TensorSpec output;
    /** Non-null only for FASTER exports. */
    public final Faster faster;

    /**
     * The FASTER block (export/faster.py): clip length L, N clips, the #E:#C pattern, the three
     * model files, and the step's state tensors (names, for its signature) and feature input.
     */
    public static final class Faster {
        public final int clipFrames;
        public final int clips;
        public final int expensivePerPeriod;
        public final int cheapPerPeriod;
        public final String expensive;
        public final String cheap;
        public final String step;
        public final String aggregator;
        public final int[] stateShape;
        /** The step's state tensors, in the sidecar's order (names match its signature). */
        public final List<TensorSpec> states;
        /** The step's feature input as the sidecar describes it, or null. */
        public final TensorSpec feature;

        Faster(int clipFrames, int clips, int e, int c, String expensive, String cheap, String step, String aggregator,
               int[] stateShape, List<TensorSpec> states, TensorSpec feature) {
            this.clipFrames = clipFrames;
            this.clips = clips;
            this.expensivePerPeriod = e;
            this.cheapPerPeriod = c;
            this.expensive = expensive;
            this.cheap = cheap;
            this.step = step;
            this.aggregator = aggregator;
            this.stateShape = stateShape;
            this.states = Collections.unmodifiableList(states);
            this.feature = feature;
        }

        public FasterScheduler scheduler() {
            return new FasterScheduler(expensivePerPeriod, cheapPerPeriod);
        }

        public List<String> stateNames() {
            List<String> out = new ArrayList<String>();
            for (TensorSpec t : states) {
                out.add(t.name);
            }
            return out;
        }
    }

    private Sidecar(String source, int version, String kvidVersion, String model, List<String> labels, int frames,
                    int height, int width, ClipSpec clip, TensorSpec input, TensorSpec output, Faster faster) {
        this.source = source;
        this.kvidVersion = kvidVersion;
        this.model = model;
        this.labels = labels;
        this.frames = frames;
        this.height = height;
        this.width = width;
        this.version = version;
        this.clip = clip;
        this.input = input;
        this.output = output;
        this.faster = faster;
    }

    public int numClasses() {
        return labels.size();
    }

    /**
     * The protocol a whole video runs with: the sidecar's clip protocol, or for FASTER its N
     * clips of L frames (one sequence through the aggregator, a single crop).
     */
    public ClipSpec videoSpec() {
        return faster == null ? clip : clip.withClips(faster.clipFrames, faster.clips);
    }

    /** Parses and validates sidecar JSON text; {@code source} names it in error messages. */
    public static Sidecar parse(String jsonText, String source) {
        return fromJson(Json.parse(jsonText, source), source);
    }

    /** Validates an already parsed sidecar object (e.g. the one embedded in a golden manifest). */
    public static Sidecar fromJson(Object parsed, String source) {
        Map<String, Object> m = Json.asObject(parsed, source);
        String format = m.containsKey("format") ? String.valueOf(m.get("format")) : null;
        if (!FORMAT.equals(format)) {
            throw new KvidException(source + ": not a kvid sidecar (\"format\" is " + Json.describe(format)
                    + ", expected \"" + FORMAT + "\")");
        }
        int version = Json.asInt(Json.require(m, "version", source), source + ": version");
        if (version < OLDEST_VERSION || version > VERSION) {
            throw new KvidException(source + ": sidecar version " + version + " is not supported (this app reads versions "
                    + OLDEST_VERSION + " to " + VERSION + "); re-export the model with a matching kvid");
        }
        String kvidVersion = m.get("kvid_version") == null ? "" : Json.asString(m.get("kvid_version"), source + ": kvid_version");
        String model = m.get("model") == null ? "" : Json.asString(m.get("model"), source + ": model");

        List<Object> rawLabels = Json.asArray(Json.require(m, "labels", source), source + ": labels");
        if (rawLabels.isEmpty()) {
            throw new KvidException(source + ": labels: the label list is empty");
        }
        List<String> labels = new ArrayList<String>(rawLabels.size());
        for (int i = 0; i < rawLabels.size(); i++) {
            labels.add(Json.asString(rawLabels.get(i), source + ": labels[" + i + "]"));
        }
        int frames = positive(m, "frames", source);
        int height = positive(m, "height", source);
        int width = positive(m, "width", source);
        ClipSpec clip = ClipSpec.fromSidecar(m, version, frames, height, width, source);

        TensorSpec input = TensorSpec.fromJson(Json.require(m, "input", source), source + ": input");
        TensorSpec output = TensorSpec.fromJson(Json.require(m, "output", source), source + ": output");

        Faster faster = null;
        if (m.get("faster") != null) {
            faster = parseFaster(Json.asObject(m.get("faster"), source + ": faster"), source + ": faster");
            if (faster.clipFrames != frames) {
                throw new KvidException(source + ": faster.clip_frames " + faster.clipFrames
                        + " does not match frames " + frames);
            }
            if (clip.crops != 1) {
                throw new KvidException(source + ": a FASTER export runs one crop per clip, the sidecar asks for "
                        + clip.crops);
            }
        }
        Sidecar sc = new Sidecar(source, version, kvidVersion, model, Collections.unmodifiableList(labels), frames,
                height, width, clip, input, output, faster);
        sc.checkSelf();
        return sc;
    }

    private static Faster parseFaster(Map<String, Object> f, String what) {
        int clipFrames = positive(f, "clip_frames", what);
        int clips = positive(f, "clips", what);
        int[] pattern = Json.asIntArray(Json.require(f, "pattern", what), what + ".pattern");
        if (pattern.length != 2 || pattern[0] < 0 || pattern[1] < 0 || pattern[0] + pattern[1] == 0) {
            throw new KvidException(what + ".pattern: expected [#E, #C] such as [1, 3], found "
                    + TensorSpec.shapeString(pattern));
        }
        String e = Json.asString(Json.require(f, "expensive", what), what + ".expensive");
        String c = Json.asString(Json.require(f, "cheap", what), what + ".cheap");
        String step = Json.asString(Json.require(f, "step", what), what + ".step");
        String aggregator = f.get("aggregator") == null ? "" : Json.asString(f.get("aggregator"), what + ".aggregator");
        int[] stateShape = f.get("state_shape") == null ? null : Json.asIntArray(f.get("state_shape"), what + ".state_shape");
        List<TensorSpec> states = new ArrayList<TensorSpec>();
        if (f.get("states") != null) {
            List<Object> raw = Json.asArray(f.get("states"), what + ".states");
            for (int i = 0; i < raw.size(); i++) {
                TensorSpec t = TensorSpec.fromJson(raw.get(i), what + ".states[" + i + "]");
                if (t.name.isEmpty()) {
                    throw new KvidException(what + ".states[" + i + "]: the state has no name");
                }
                states.add(t);
            }
        }
        if (states.isEmpty()) {
            throw new KvidException(what + ".states: the step's state tensors are not listed");
        }
        TensorSpec feature = f.get("feature") == null ? null : TensorSpec.fromJson(f.get("feature"), what + ".feature");
        return new Faster(clipFrames, clips, pattern[0], pattern[1], e, c, step, aggregator, stateShape, states, feature);
    }

    private static int positive(Map<String, Object> m, String key, String what) {
        int v = Json.asInt(Json.require(m, key, what), what + ": " + key);
        if (v < 1) {
            throw new KvidException(what + ": " + key + " must be at least 1, found " + v);
        }
        return v;
    }

    /** The sidecar's own consistency: input shape (T,H,W,3), one label per output class. */
    private void checkSelf() {
        int[] expected = {frames, height, width, 3};
        if (!java.util.Arrays.equals(input.shape, expected)) {
            throw new KvidException(source + ": input.shape " + TensorSpec.shapeString(input.shape)
                    + " does not match frames, height, width " + TensorSpec.shapeString(expected));
        }
        int classes = output.shape.length == 0 ? 1 : output.shape[output.shape.length - 1];
        if (classes != output.elementCount()) {
            throw new KvidException(source + ": output.shape " + TensorSpec.shapeString(output.shape)
                    + " is not a single row of class scores");
        }
        if (classes != labels.size()) {
            throw new KvidException(source + ": " + labels.size() + " labels but the model outputs "
                    + classes + " classes (output.shape " + TensorSpec.shapeString(output.shape) + ")");
        }
    }

    /**
     * Checks a loaded model's real input and output tensors against this sidecar, so a model
     * exported at another size, or a sidecar of another model, fails loudly instead of running
     * on wrongly laid-out bytes. {@code modelName} names the model file in the message.
     */
    public void checkModel(String modelName, TensorSpec realInput, TensorSpec realOutput) {
        checkInput(modelName, realInput);
        checkOutput(modelName, realOutput);
    }

    /** Checks a model's class-score output (class count, dtype, quantisation) against this sidecar. */
    public void checkOutput(String modelName, TensorSpec realOutput) {
        checkLabels(modelName, realOutput);
        checkQuantization(modelName, "output", realOutput, output);
    }

    /**
     * Checks a model's clip input (shape, dtype, quantisation) against this sidecar; for FASTER
     * the expensive and the cheap clip models both take the sidecar's input.
     */
    public void checkInput(String modelName, TensorSpec realInput) {
        if (!java.util.Arrays.equals(realInput.shape, input.shape)) {
            throw new KvidException(modelName + ": input shape " + TensorSpec.shapeString(realInput.shape)
                    + " does not match its sidecar " + source + " " + TensorSpec.shapeString(input.shape));
        }
        checkQuantization(modelName, "input", realInput, input);
    }

    /** The model's class count (last output dimension) must equal the number of labels. */
    public void checkLabels(String modelName, TensorSpec realOutput) {
        int classes = realOutput.elementCount();
        if (classes != labels.size()) {
            throw new KvidException(modelName + ": the model outputs " + classes + " classes but "
                    + source + " lists " + labels.size() + " labels");
        }
    }

    private void checkQuantization(String modelName, String which, TensorSpec real, TensorSpec declared) {
        if (!real.dtype.equals(declared.dtype)) {
            throw new KvidException(modelName + ": " + which + " dtype " + real.dtype + " does not match its sidecar "
                    + source + " (" + declared.dtype + ")");
        }
        if (!real.sameQuantization(declared)) {
            throw new KvidException(modelName + ": " + which + " quantisation (scale " + real.scale + ", zero point "
                    + real.zeroPoint + ") does not match its sidecar " + source + " (scale " + declared.scale
                    + ", zero point " + declared.zeroPoint + ")");
        }
    }

    /** The model files this sidecar needs beside it ({@code modelFile} for plain exports). */
    public List<String> requiredModelFiles(String modelFile) {
        List<String> out = new ArrayList<String>();
        if (faster == null) {
            out.add(modelFile);
        } else {
            out.add(faster.expensive);
            out.add(faster.cheap);
            out.add(faster.step);
        }
        return out;
    }
}
