package org.kvid.core;

import java.util.Arrays;
import java.util.List;

/**
 * The bookkeeping of one FASTER run (a video, or a live stream), independent of any
 * interpreter: which model each clip goes through, the aggregator state carried between clips,
 * and the requantisation where one model's output feeds another model's input with different
 * int8 parameters.
 *
 * <p>Per clip the app does:
 * <pre>
 *   boolean e = session.nextIsExpensive();
 *   byte[] feature = run(e ? expensive : cheap, clipTensor);        // the clip model's output bytes
 *   FasterSession.StepInput in = session.stepInput(feature, e);     // step inputs, step's quantisation
 *   run(step, in.feature, in.state) -&gt; stateOut, logitsOut
 *   float[] scores = session.finishStep(stateOut, logitsOut);       // carries the state, next clip
 * </pre>
 *
 * <p>How the state starts ({@code faster.state_init} in the sidecar):
 * <ul>
 * <li>{@code "first_feature"} (default, the paper: {@code o_0 = x_0}): after clip 0 the state is
 *     clip 0's feature itself; clip 0's prediction is the step's logits for
 *     {@code (x_0, o_0 = x_0)}, whose state output is not kept. Clip t &gt;= 1:
 *     {@code o_t = step(x_t, o_{t-1})}, exactly the offline recurrence.</li>
 * <li>{@code "zeros"}: the state before clip 0 is all zeros (real 0, i.e. the zero point); every
 *     clip's step output state is carried.</li>
 * </ul>
 */
public final class FasterSession {
    public static final String INIT_FIRST_FEATURE = "first_feature";
    public static final String INIT_ZEROS = "zeros";

    private final FasterScheduler scheduler;
    private final String stateInit;
    private final TensorSpec expensiveOut;
    private final TensorSpec cheapOut;
    private final StepIo step;
    private byte[] state;      // in the step's state-input quantisation
    private int clipIndex;
    private boolean keepStepState;

    /** Which tensor of the step model is which (by index into its inputs / outputs). */
    public static final class StepIo {
        public final int featureInput;
        public final int stateInput;
        public final int stateOutput;
        public final int logitsOutput;
        public final TensorSpec feature;
        public final TensorSpec stateIn;
        public final TensorSpec stateOut;
        public final TensorSpec logits;

        StepIo(int fi, int si, int so, int lo, TensorSpec feature, TensorSpec stateIn, TensorSpec stateOut, TensorSpec logits) {
            this.featureInput = fi;
            this.stateInput = si;
            this.stateOutput = so;
            this.logitsOutput = lo;
            this.feature = feature;
            this.stateIn = stateIn;
            this.stateOut = stateOut;
            this.logits = logits;
        }

        /**
         * Finds the step model's feature/state inputs and state/logits outputs: by name first
         * (an input or output whose name contains "state" is the state; an output whose name
         * contains "logit", or whose size is the class count, is the logits), else in the
         * documented order (inputs feature, state; outputs state, logits).
         */
        public static StepIo resolve(String model, List<TensorSpec> inputs, List<TensorSpec> outputs, int classes) {
            if (inputs.size() != 2 || outputs.size() != 2) {
                throw new KvidException(model + ": a FASTER step model has 2 inputs (feature, state) and 2 outputs "
                        + "(state, logits); this one has " + inputs.size() + " and " + outputs.size());
            }
            int si = byName(inputs, "state");
            int fi = si < 0 ? 0 : 1 - si;
            if (si < 0) {
                si = 1;
            }
            int lo = byName(outputs, "logit");
            if (lo < 0) {
                int so = byName(outputs, "state");
                if (so >= 0) {
                    lo = 1 - so;
                } else if (outputs.get(0).elementCount() == classes && outputs.get(1).elementCount() != classes) {
                    lo = 0;
                } else {
                    lo = 1;
                }
            }
            int so = 1 - lo;
            StepIo io = new StepIo(fi, si, so, lo, inputs.get(fi), inputs.get(si), outputs.get(so), outputs.get(lo));
            if (io.stateIn.elementCount() != io.stateOut.elementCount()) {
                throw new KvidException(model + ": state input " + TensorSpec.shapeString(io.stateIn.shape)
                        + " and state output " + TensorSpec.shapeString(io.stateOut.shape) + " differ in size");
            }
            if (io.logits.elementCount() != classes) {
                throw new KvidException(model + ": logits output " + TensorSpec.shapeString(io.logits.shape)
                        + " does not have one score per label (" + classes + " labels)");
            }
            return io;
        }

        private static int byName(List<TensorSpec> specs, String word) {
            int found = -1;
            for (int i = 0; i < specs.size(); i++) {
                if (specs.get(i).name.toLowerCase(java.util.Locale.ROOT).contains(word)) {
                    if (found >= 0) {
                        return -1; // ambiguous: fall back to the documented order
                    }
                    found = i;
                }
            }
            return found;
        }
    }

    /** The step model's inputs for one clip, in the step's own quantisation. */
    public static final class StepInput {
        public final byte[] feature;
        public final byte[] state;

        StepInput(byte[] feature, byte[] state) {
            this.feature = feature;
            this.state = state;
        }
    }

    public FasterSession(Sidecar.Faster faster, TensorSpec expensiveOut, TensorSpec cheapOut, StepIo step) {
        this.scheduler = faster.scheduler();
        this.stateInit = faster.stateInit;
        this.expensiveOut = expensiveOut;
        this.cheapOut = cheapOut;
        this.step = step;
        for (TensorSpec t : new TensorSpec[] {expensiveOut, cheapOut, step.feature, step.stateIn, step.stateOut}) {
            if (t.isFloat() || t.bytesPerElement() != 1) {
                throw new KvidException(t.name + ": FASTER bookkeeping expects 8-bit tensors, found " + t.dtype);
            }
        }
        if (expensiveOut.elementCount() != step.feature.elementCount()) {
            throw new KvidException(faster.expensive + ": feature " + TensorSpec.shapeString(expensiveOut.shape)
                    + " does not fit the step's feature input " + TensorSpec.shapeString(step.feature.shape));
        }
        if (cheapOut.elementCount() != step.feature.elementCount()) {
            throw new KvidException(faster.cheap + ": feature " + TensorSpec.shapeString(cheapOut.shape)
                    + " does not fit the step's feature input " + TensorSpec.shapeString(step.feature.shape));
        }
        if (faster.stateShape != null) {
            long n = 1;
            for (int d : faster.stateShape) {
                n *= d;
            }
            if (n != step.stateIn.elementCount()) {
                throw new KvidException(faster.step + ": state input " + TensorSpec.shapeString(step.stateIn.shape)
                        + " does not match the sidecar's state_shape " + TensorSpec.shapeString(faster.stateShape));
            }
        }
        if (INIT_FIRST_FEATURE.equals(stateInit) && step.feature.elementCount() != step.stateIn.elementCount()) {
            throw new KvidException(faster.step + ": state_init \"first_feature\" needs the feature and the state to have "
                    + "the same size, found " + TensorSpec.shapeString(step.feature.shape) + " and "
                    + TensorSpec.shapeString(step.stateIn.shape));
        }
        reset();
    }

    /** Starts a new video or stream: clip 0 next, state forgotten. */
    public void reset() {
        clipIndex = 0;
        state = null;
        keepStepState = true;
    }

    public int clipIndex() {
        return clipIndex;
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

    /** The current state (step state-input quantisation), or null before the first clip. */
    public byte[] state() {
        return state == null ? null : state.clone();
    }

    /**
     * The step's inputs for this clip's feature map ({@code feature}: the raw output bytes of the
     * expensive model if {@code expensive}, else of the cheap one).
     */
    public StepInput stepInput(byte[] feature, boolean expensive) {
        if (expensive != nextIsExpensive()) {
            throw new KvidException("clip " + clipIndex + " is scheduled " + (nextIsExpensive() ? "expensive" : "cheap")
                    + " (pattern " + scheduler + "), not " + (expensive ? "expensive" : "cheap"));
        }
        TensorSpec from = expensive ? expensiveOut : cheapOut;
        if (feature.length != from.elementCount()) {
            throw new KvidException(from.name + ": " + feature.length + " feature bytes, expected " + from.elementCount());
        }
        byte[] f = requantize(feature, from, step.feature);
        if (state == null) {
            if (INIT_FIRST_FEATURE.equals(stateInit)) {
                state = requantize(feature, from, step.stateIn); // o_0 = x_0
                keepStepState = false; // clip 0: the step only gives the prediction
            } else {
                state = zeros(step.stateIn);
                keepStepState = true;
            }
        } else {
            keepStepState = true;
        }
        return new StepInput(f, state.clone());
    }

    /**
     * Takes the step's outputs for this clip: carries the state (requantised into the state
     * input's parameters), advances to the next clip and returns the dequantised logits.
     */
    public float[] finishStep(byte[] stateOut, byte[] logitsOut) {
        if (state == null) {
            throw new KvidException("finishStep() before stepInput() for clip " + clipIndex);
        }
        if (stateOut.length != step.stateOut.elementCount()) {
            throw new KvidException(step.stateOut.name + ": " + stateOut.length + " state bytes, expected "
                    + step.stateOut.elementCount());
        }
        if (keepStepState) {
            state = requantize(stateOut, step.stateOut, step.stateIn);
        }
        clipIndex++;
        if (step.logits.isFloat()) {
            throw new KvidException(step.logits.name + ": use finishStep(byte[], float[]) for float logits");
        }
        return Scores.dequantize(logitsOut, step.logits);
    }

    /** As {@link #finishStep(byte[], byte[])} for a step model with float32 logits. */
    public float[] finishStep(byte[] stateOut, float[] logits) {
        if (state == null) {
            throw new KvidException("finishStep() before stepInput() for clip " + clipIndex);
        }
        if (keepStepState) {
            state = requantize(stateOut, step.stateOut, step.stateIn);
        }
        clipIndex++;
        return logits.clone();
    }

    /** The integer encoding of real 0 in {@code spec}: its zero point, clamped. */
    static byte[] zeros(TensorSpec spec) {
        byte[] out = new byte[spec.elementCount()];
        Arrays.fill(out, (byte) Math.max(spec.qmin(), Math.min(spec.qmax(), spec.zeroPoint)));
        return out;
    }

    /**
     * Re-encodes 8-bit values from one quantisation to another:
     * {@code q' = clamp(rint(((float) q - zp) * scale / scale') + zp')} in float32 arithmetic;
     * identical parameters copy the bytes.
     */
    public static byte[] requantize(byte[] q, TensorSpec from, TensorSpec to) {
        if (from.sameQuantization(to)) {
            return q.clone();
        }
        boolean unsigned = "uint8".equals(from.dtype);
        float sFrom = (float) from.scale;
        float sTo = (float) to.scale;
        byte[] table = new byte[256];
        for (int b = 0; b < 256; b++) {
            int v = unsigned ? b : (byte) b;
            float real = ((float) v - from.zeroPoint) * sFrom;
            float r = (float) Math.rint(real / sTo);
            long out = (long) r + to.zeroPoint;
            table[b] = (byte) Math.max(to.qmin(), Math.min(to.qmax(), out));
        }
        byte[] out = new byte[q.length];
        for (int i = 0; i < q.length; i++) {
            out[i] = table[q[i] & 0xFF];
        }
        return out;
    }
}
