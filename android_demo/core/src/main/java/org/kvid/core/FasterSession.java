package org.kvid.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The bookkeeping of one FASTER run (a video, or a live stream), independent of any
 * interpreter - the Java twin of {@code kvid.runtime.faster.FasterStream}: which model each clip
 * goes through, the aggregator state(s) carried between clips, the step's control vector, and
 * the requantisation where one model's int8 output feeds another model's input.
 *
 * <p>The step model (export/faster.py) is called through its signature: inputs
 * {@code feature} (the clip model's feature map, same bytes reshaped to (1, L/8, h*w, C) and
 * requantised to the step's scale), the state(s) named in the sidecar and {@code control}
 * (1, 1, 1, 6); outputs the new state(s) and {@code logits}. The states start at zero; the control
 * vector tells the step whether the clip is the first ({@code o_0 = x_0} happens inside the step),
 * whether it is expensive, and the running-average weight {@code 1 / (t + 1)}.
 *
 * <p>Per clip the app does:
 * <pre>
 *   boolean e = session.nextIsExpensive();
 *   byte[] feature = run(e ? expensive : cheap, clipTensor);     // the clip model's output bytes
 *   Map&lt;String, byte[]&gt; in = session.stepInputs(feature, e);     // every step input, by name
 *   run step -&gt; outputs by name
 *   float[] scores = session.finishStep(stateOutputs, logits);  // carries the states, next clip
 * </pre>
 * All arithmetic is float32 as numpy does it in kvid.runtime.faster ({@code _quantize},
 * {@code _dequantize}); the golden-vector test compares the bytes.
 */
public final class FasterSession {
    /** Names of the control vector's fields, in order (kvid.runtime.faster.CONTROL_FIELDS). */
    public static final String[] CONTROL_FIELDS = {"first", "keep", "expensive", "cheap", "weight", "decay"};
    public static final String FEATURE = "feature";
    public static final String CONTROL = "control";
    public static final String LOGITS = "logits";

    private final FasterScheduler scheduler;
    private final TensorSpec expensiveOut;
    private final TensorSpec cheapOut;
    private final StepIo step;
    private final Map<String, byte[]> states = new LinkedHashMap<String, byte[]>();
    private int clipIndex;
    private boolean stepPending;
    /** Live use: clips per aggregation window (0: one sequence, never restarted). */
    private int window;
    private int windowsDone;

    /** The step model's tensors, by signature name. */
    public static final class StepIo {
        public final TensorSpec feature;
        public final TensorSpec control;
        public final List<String> stateNames;
        public final Map<String, TensorSpec> stateIn;
        public final Map<String, TensorSpec> stateOut;
        public final TensorSpec logits;

        private StepIo(TensorSpec feature, TensorSpec control, List<String> stateNames, Map<String, TensorSpec> stateIn,
                       Map<String, TensorSpec> stateOut, TensorSpec logits) {
            this.feature = feature;
            this.control = control;
            this.stateNames = Collections.unmodifiableList(stateNames);
            this.stateIn = Collections.unmodifiableMap(stateIn);
            this.stateOut = Collections.unmodifiableMap(stateOut);
            this.logits = logits;
        }

        /**
         * The step's signature tensors ({@code inputs}/{@code outputs}: name -&gt; spec), checked:
         * inputs feature, control and every state; outputs every state and logits with one score
         * per label. {@code model} names the file in error messages.
         */
        public static StepIo fromSignature(String model, Map<String, TensorSpec> inputs, Map<String, TensorSpec> outputs,
                                           List<String> stateNames, int classes) {
            for (String name : inputs.keySet()) {
                if (!FEATURE.equals(name) && !CONTROL.equals(name) && !stateNames.contains(name)) {
                    throw new KvidException(model + ": step input \"" + name + "\" is neither the feature, the control "
                            + "vector nor a state the sidecar names (" + stateNames + ")");
                }
            }
            TensorSpec feature = need(model, "input", inputs, FEATURE);
            TensorSpec control = need(model, "input", inputs, CONTROL);
            if (control.elementCount() != CONTROL_FIELDS.length) {
                throw new KvidException(model + ": control input " + TensorSpec.shapeString(control.shape) + " does not hold "
                        + CONTROL_FIELDS.length + " values");
            }
            Map<String, TensorSpec> in = new LinkedHashMap<String, TensorSpec>();
            Map<String, TensorSpec> out = new LinkedHashMap<String, TensorSpec>();
            for (String s : stateNames) {
                TensorSpec si = need(model, "input", inputs, s);
                TensorSpec so = need(model, "output", outputs, s);
                if (si.elementCount() != so.elementCount()) {
                    throw new KvidException(model + ": state " + s + " goes in as " + TensorSpec.shapeString(si.shape)
                            + " but comes out as " + TensorSpec.shapeString(so.shape));
                }
                for (TensorSpec t : new TensorSpec[] {si, so}) {
                    if (t.isFloat() || t.bytesPerElement() != 1) {
                        throw new KvidException(model + ": state " + s + " is " + t.dtype + "; FASTER exports carry 8-bit states");
                    }
                }
                in.put(s, si);
                out.put(s, so);
            }
            TensorSpec logits = need(model, "output", outputs, LOGITS);
            if (logits.elementCount() != classes) {
                throw new KvidException(model + ": logits " + TensorSpec.shapeString(logits.shape)
                        + " do not have one score per label (" + classes + " labels)");
            }
            return new StepIo(feature, control, new ArrayList<String>(stateNames), in, out, logits);
        }

        private static TensorSpec need(String model, String kind, Map<String, TensorSpec> specs, String name) {
            TensorSpec t = specs.get(name);
            if (t == null) {
                throw new KvidException(model + ": the step model has no " + kind + " \"" + name + "\" (its signature has "
                        + specs.keySet() + ")");
            }
            return t;
        }
    }

    public FasterSession(Sidecar.Faster faster, TensorSpec expensiveOut, TensorSpec cheapOut, StepIo step) {
        this.scheduler = faster.scheduler();
        this.expensiveOut = expensiveOut;
        this.cheapOut = cheapOut;
        this.step = step;
        for (TensorSpec t : new TensorSpec[] {expensiveOut, cheapOut, step.feature}) {
            if (t.isFloat() || t.bytesPerElement() != 1) {
                throw new KvidException(t.name + ": FASTER feature maps are 8-bit in kvid exports, found " + t.dtype);
            }
        }
        if (faster.feature != null) {
            checkDeclared(faster.step, "feature", step.feature, faster.feature);
        }
        for (TensorSpec declared : faster.states) {
            TensorSpec real = step.stateIn.get(declared.name);
            if (real == null) {
                throw new KvidException(faster.step + ": the sidecar's state \"" + declared.name + "\" is not a step input");
            }
            checkDeclared(faster.step, "state " + declared.name, real, declared);
        }
        String[] names = {faster.expensive, faster.cheap};
        TensorSpec[] outs = {expensiveOut, cheapOut};
        for (int i = 0; i < 2; i++) {
            if (outs[i].elementCount() != step.feature.elementCount()) {
                throw new KvidException(names[i] + ": feature " + TensorSpec.shapeString(outs[i].shape)
                        + " does not fit the step's feature input " + TensorSpec.shapeString(step.feature.shape));
            }
        }
        reset();
    }

    private static void checkDeclared(String model, String what, TensorSpec real, TensorSpec declared) {
        if (!java.util.Arrays.equals(real.shape, declared.shape) || !real.sameQuantization(declared)) {
            throw new KvidException(model + ": " + what + " is " + real + " but the sidecar says " + declared);
        }
    }

    /** Starts a new video or stream: clip 0 next, every state back to zero. */
    public void reset() {
        clipIndex = 0;
        windowsDone = 0;
        restart();
    }

    private void restart() {
        clipIndex = 0;
        stepPending = false;
        states.clear();
        for (String s : step.stateNames) {
            states.put(s, encode(new float[step.stateIn.get(s).elementCount()], step.stateIn.get(s)));
        }
    }

    public int clipIndex() {
        return clipIndex;
    }

    /**
     * Live use: aggregate over windows of {@code clips} clips - after the last clip of a window
     * the states go back to zero and the next clip starts a new sequence (0: never). A stream
     * that never restarts breaks down: the running-average weight {@code 1 / (t + 1)} of the
     * control input is quantised ({@link #weightVanishesAt}), so after a few hundred clips it
     * rounds to zero and the prediction freezes; and the step was trained and calibrated on
     * sequences of the sidecar's N clips, not thousands. The window is capped at the clip where
     * the weight vanishes.
     */
    public void setWindow(int clips) {
        if (clips < 0) {
            throw new KvidException("window=" + clips + ": must be >= 0 (0: no window)");
        }
        int limit = weightVanishesAt(step.control);
        this.window = clips == 0 ? 0 : Math.min(clips, limit);
    }

    public int window() {
        return window;
    }

    /** Completed windows since the last {@link #reset()}. */
    public int windowsDone() {
        return windowsDone;
    }

    /**
     * The first clip index t whose running-average weight {@code 1 / (t + 1)} encodes to the same
     * control byte as a weight of 0 (so from clip t on the step's running average stops moving);
     * {@code Integer.MAX_VALUE} when it never does (a float control input). kvid's int8 exports
     * (scale 1/255, zero point -128) give 509: 1/510 * 255 = 0.5 rounds to 0.
     */
    public static int weightVanishesAt(TensorSpec control) {
        if (control.isFloat()) {
            return Integer.MAX_VALUE;
        }
        byte zero = encode(new float[] {0f}, control)[0];
        for (int t = 1; t < (1 << 20); t++) {
            if (encode(new float[] {controlVector(t, false)[4]}, control)[0] == zero) {
                return t;
            }
        }
        return Integer.MAX_VALUE;
    }

    public FasterScheduler scheduler() {
        return scheduler;
    }

    public StepIo stepIo() {
        return step;
    }

    public boolean nextIsExpensive() {
        return scheduler.isExpensive(clipIndex);
    }

    /** The current value of state {@code name} (the step's input encoding). */
    public byte[] state(String name) {
        byte[] s = states.get(name);
        if (s == null) {
            throw new KvidException("no state \"" + name + "\" (states: " + states.keySet() + ")");
        }
        return s.clone();
    }

    /**
     * The control vector of clip {@code t}: first = [t == 0], keep = 1 - first, expensive,
     * cheap = 1 - expensive, weight = 1 / (t + 1), decay = 1 - weight (computed in double,
     * stored as float32, as numpy builds it).
     */
    public static float[] controlVector(int t, boolean expensive) {
        double first = t == 0 ? 1.0 : 0.0;
        double e = expensive ? 1.0 : 0.0;
        double w = 1.0 / (t + 1);
        return new float[] {(float) first, (float) (1.0 - first), (float) e, (float) (1.0 - e), (float) w, (float) (1.0 - w)};
    }

    /**
     * Every input of the step model for this clip, by signature name: the feature map
     * ({@code feature}: raw output bytes of the expensive model if {@code expensive}, else of the
     * cheap one) requantised, the control vector, the states.
     */
    public Map<String, byte[]> stepInputs(byte[] feature, boolean expensive) {
        if (expensive != nextIsExpensive()) {
            throw new KvidException("clip " + clipIndex + " is scheduled " + (nextIsExpensive() ? "expensive" : "cheap")
                    + " (pattern " + scheduler + "), not " + (expensive ? "expensive" : "cheap"));
        }
        TensorSpec from = expensive ? expensiveOut : cheapOut;
        if (feature.length != from.elementCount()) {
            throw new KvidException(from.name + ": " + feature.length + " feature bytes, expected " + from.elementCount());
        }
        Map<String, byte[]> in = new LinkedHashMap<String, byte[]>();
        in.put(FEATURE, requantize(feature, from, step.feature));
        in.put(CONTROL, encode(controlVector(clipIndex, expensive), step.control));
        for (String s : step.stateNames) {
            in.put(s, states.get(s).clone());
        }
        stepPending = true;
        return in;
    }

    /**
     * Takes the step's outputs for this clip - {@code stateOutputs} by name (raw bytes) and the
     * logits read with {@link Scores#read} - carries the states (requantised where the step's
     * state output and input differ), advances to the next clip and returns the logits.
     */
    public float[] finishStep(Map<String, byte[]> stateOutputs, float[] logits) {
        if (!stepPending) {
            throw new KvidException("finishStep() without stepInputs() for clip " + clipIndex);
        }
        if (logits.length != step.logits.elementCount()) {
            throw new KvidException("logits: " + logits.length + " scores, expected " + step.logits.elementCount());
        }
        Map<String, byte[]> next = new LinkedHashMap<String, byte[]>();
        for (String s : step.stateNames) {
            byte[] out = stateOutputs.get(s);
            if (out == null || out.length != step.stateOut.get(s).elementCount()) {
                throw new KvidException("state " + s + ": missing or wrong size in the step's outputs");
            }
            next.put(s, requantize(out, step.stateOut.get(s), step.stateIn.get(s)));
        }
        states.putAll(next);
        stepPending = false;
        clipIndex++;
        if (window > 0 && clipIndex >= window) {
            windowsDone++;
            restart(); // the next clip starts a new window: clip 0, zero states
        }
        return logits.clone();
    }

    /**
     * Real values to a tensor's bytes: 8-bit {@code clamp(rint(x / scale) + zeroPoint)} in
     * float32, or float32 little-endian for float tensors.
     */
    public static byte[] encode(float[] x, TensorSpec spec) {
        if (spec.isFloat()) {
            ByteBuffer b = ByteBuffer.allocate(x.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : x) {
                b.putFloat(v);
            }
            return b.array();
        }
        if (spec.bytesPerElement() != 1) {
            throw new KvidException(spec.name + ": cannot encode " + spec.dtype + " values");
        }
        float scale = (float) spec.scale;
        byte[] out = new byte[x.length];
        for (int i = 0; i < x.length; i++) {
            float r = (float) Math.rint(x[i] / scale);
            long q = (long) r + spec.zeroPoint;
            out[i] = (byte) Math.max(spec.qmin(), Math.min(spec.qmax(), q));
        }
        return out;
    }

    /**
     * Re-encodes 8-bit values from one quantisation to another, as
     * {@code _quantize(_dequantize(q, from), to)}: {@code real = ((float) q - zp) * scale},
     * {@code q' = clamp(rint(real / scale') + zp')}, float32; identical parameters copy the bytes.
     */
    public static byte[] requantize(byte[] q, TensorSpec from, TensorSpec to) {
        if (from.sameQuantization(to)) {
            return q.clone();
        }
        boolean unsigned = "uint8".equals(from.dtype);
        float sFrom = (float) from.scale;
        float[] real = new float[256];
        for (int b = 0; b < 256; b++) {
            int v = unsigned ? b : (byte) b;
            real[b] = ((float) v - (float) from.zeroPoint) * sFrom;
        }
        byte[] table = encode(real, to);
        if (table.length != 256) {
            throw new KvidException(to.name + ": requantize() writes 8-bit tensors");
        }
        byte[] out = new byte[q.length];
        for (int i = 0; i < q.length; i++) {
            out[i] = table[q[i] & 0xFF];
        }
        return out;
    }
}
