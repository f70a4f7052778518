package org.kvid.demo

import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.kvid.core.ClipInput
import org.kvid.core.FasterSession
import org.kvid.core.KvidException
import org.kvid.core.ModelAssets
import org.kvid.core.Scores
import org.kvid.core.Sidecar
import org.kvid.core.TensorSpec
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor

/**
 * One clip's result: class scores (dequantised logits), how long the model(s) took, which
 * FASTER model ran (null for a plain model), and - only when asked for (the parity dump) - the
 * exact input and raw output tensor bytes.
 */
class ClipResult(
    val scores: FloatArray,
    val modelNanos: Long,
    val expensive: Boolean?,
    val input: ByteArray?,
    val output: ByteArray?,
)

private fun directBuffer(bytes: Int): ByteBuffer = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder())

private fun bytesOf(buf: ByteBuffer): ByteArray {
    buf.rewind()
    return ByteArray(buf.remaining()).also { buf.get(it) }
}

/** A LiteRT tensor described the way core describes tensors. */
fun Tensor.spec(): TensorSpec {
    val dtype = when (dataType()) {
        DataType.INT8 -> "int8"
        DataType.UINT8 -> "uint8"
        DataType.INT16 -> "int16"
        DataType.INT32 -> "int32"
        DataType.FLOAT32 -> "float32"
        else -> throw KvidException("${name()}: tensor type ${dataType()} is not supported")
    }
    val q = quantizationParams()
    return TensorSpec(name(), shape(), dtype, q.scale.toDouble(), q.zeroPoint)
}

/**
 * The model(s) of a [ModelSource], each in a LiteRT [Interpreter] with [threads] threads and
 * XNNPACK on, memory-mapped, checked against the sidecar before anything runs, and warmed up
 * (one run each, so the first timed clip does not pay for XNNPACK's weight packing). A plain
 * export runs one clip to scores; a FASTER export runs each clip through the expensive or the
 * cheap model as the pattern says, then the aggregator step, carrying the state
 * ([FasterSession]). Not thread-safe: one worker thread owns it.
 */
class VideoClassifier(val source: ModelSource, val threads: Int) : AutoCloseable {
    val assets: ModelAssets = source.load()
    val sidecar: Sidecar = assets.sidecar
    val clipInput: ClipInput = ClipInput.of(sidecar)
    private val interpreters = mutableListOf<Interpreter>()
    private val inBuf: ByteBuffer = directBuffer(sidecar.input.byteSize())

    private fun load(name: String): Interpreter {
        val model = source.map(name)
        val options = Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true)
        val interpreter = try {
            Interpreter(model, options)
        } catch (e: IllegalArgumentException) {
            throw KvidException("${source.files.describe(name)}: not a loadable TFLite model: ${e.message}", e)
        }
        interpreters += interpreter
        return interpreter
    }

    private fun checkSingle(name: String, interpreter: Interpreter) {
        if (interpreter.inputTensorCount != 1) {
            throw KvidException("${source.files.describe(name)}: expected one input (the clip), found ${interpreter.inputTensorCount}")
        }
        sidecar.checkInput(source.files.describe(name), interpreter.getInputTensor(0).spec())
    }

    /** A plain export: clip in, class scores out. */
    private inner class PlainModel {
        val name = assets.modelFiles[0]
        val interpreter = load(name)
        val outSpec: TensorSpec
        val outBuf: ByteBuffer

        init {
            checkSingle(name, interpreter)
            if (interpreter.outputTensorCount != 1) {
                throw KvidException("${source.files.describe(name)}: expected one output (the class scores), " +
                    "found ${interpreter.outputTensorCount}")
            }
            outSpec = interpreter.getOutputTensor(0).spec()
            sidecar.checkOutput(source.files.describe(name), outSpec)
            outBuf = directBuffer(outSpec.byteSize())
        }

        fun run(record: Boolean): ClipResult {
            outBuf.clear()
            val t0 = System.nanoTime()
            interpreter.run(inBuf, outBuf)
            val dt = System.nanoTime() - t0
            outBuf.rewind()
            val scores = Scores.read(outBuf, outSpec)
            return ClipResult(scores, dt, null, if (record) bytesOf(inBuf) else null, if (record) bytesOf(outBuf) else null)
        }
    }

    /**
     * A FASTER export: expensive and cheap clip models (one input, one output each) and the
     * aggregator step, called through its signature (inputs feature, control, states; outputs
     * states, logits - export/faster.py), with the session's schedule and states.
     */
    private inner class FasterModels(f: Sidecar.Faster) {
        val expensive = load(f.expensive)
        val cheap = load(f.cheap)
        val step = load(f.step)
        val signature: String
        val session: FasterSession
        val eOut: ByteBuffer
        val cOut: ByteBuffer
        val stepIns: Map<String, ByteBuffer>
        val stepOuts: Map<String, ByteBuffer>

        init {
            for ((name, m) in listOf(f.expensive to expensive, f.cheap to cheap)) {
                checkSingle(name, m)
                if (m.outputTensorCount != 1) {
                    throw KvidException("${source.files.describe(name)}: a FASTER clip model has one output (the feature map), " +
                        "found ${m.outputTensorCount}")
                }
            }
            signature = step.signatureKeys.firstOrNull()
                ?: throw KvidException("${source.files.describe(f.step)}: no signature (re-export the FASTER run with kvid)")
            val ins = step.getSignatureInputs(signature).associateWith { step.getInputTensorFromSignature(it, signature).spec() }
            val outs = step.getSignatureOutputs(signature).associateWith { step.getOutputTensorFromSignature(it, signature).spec() }
            val io = FasterSession.StepIo.fromSignature(source.files.describe(f.step), ins, outs, f.stateNames(), sidecar.numClasses())
            sidecar.checkOutput(source.files.describe(f.step), io.logits)
            val eSpec = expensive.getOutputTensor(0).spec()
            val cSpec = cheap.getOutputTensor(0).spec()
            session = FasterSession(f, eSpec, cSpec, io)
            eOut = directBuffer(eSpec.byteSize())
            cOut = directBuffer(cSpec.byteSize())
            stepIns = ins.mapValues { directBuffer(it.value.byteSize()) }
            stepOuts = outs.mapValues { directBuffer(it.value.byteSize()) }
        }

        /** The clip model's raw feature bytes for the clip in `inBuf` (also used by the instrumented test). */
        fun features(isE: Boolean): Pair<ByteArray, Long> {
            val featBuf = if (isE) eOut else cOut
            featBuf.clear()
            inBuf.rewind()
            val t0 = System.nanoTime()
            (if (isE) expensive else cheap).run(inBuf, featBuf)
            return bytesOf(featBuf) to System.nanoTime() - t0
        }

        fun run(record: Boolean): ClipResult {
            val isE = session.nextIsExpensive()
            val (feature, tClip) = features(isE)
            for ((name, bytes) in session.stepInputs(feature, isE)) {
                val buf = stepIns.getValue(name)
                buf.clear()
                buf.put(bytes)
                buf.rewind()
            }
            stepOuts.values.forEach { it.clear() }
            val t1 = System.nanoTime()
            step.runSignature(stepIns, stepOuts, signature)
            val tStep = System.nanoTime() - t1
            val io = session.stepIo()
            val states = io.stateNames.associateWith { bytesOf(stepOuts.getValue(it)) }
            val logitsBuf = stepOuts.getValue(FasterSession.LOGITS)
            logitsBuf.rewind()
            val scores = session.finishStep(states, Scores.read(logitsBuf, io.logits))
            return ClipResult(scores, tClip + tStep, isE, if (record) bytesOf(inBuf) else null,
                if (record) bytesOf(logitsBuf) else null)
        }
    }

    private val plain: PlainModel?
    private val fasterModels: FasterModels?

    init {
        var p: PlainModel? = null
        var fm: FasterModels? = null
        try {
            val f = sidecar.faster
            if (f == null) p = PlainModel() else fm = FasterModels(f)
        } catch (t: Throwable) {
            close()
            throw t
        }
        plain = p
        fasterModels = fm
    }

    val isFaster: Boolean get() = fasterModels != null

    /** The FASTER session (schedule, clip counter, state, live window), or null for a plain export. */
    val faster: FasterSession? get() = fasterModels?.session

    /** e.g. "sevnet_g8: 5 classes, 8x112x112, int8 input, dense, stride 2, 1 clip x 3 crops ...". */
    fun describe(): String {
        val sc = sidecar
        val f = sc.faster
        val what = if (f == null) sc.clip.describe() else
            "FASTER ${f.expensivePerPeriod}:${f.cheapPerPeriod}, ${f.clips} clips of ${f.clipFrames} frames"
        return "${sc.model.ifEmpty { "model" }} (${source.label}, sidecar v${sc.version}): ${sc.numClasses()} classes, " +
            "${sc.frames}x${sc.height}x${sc.width}, ${sc.input.dtype} input, $what; $threads threads, XNNPACK on"
    }

    /**
     * Runs one preprocessed clip ([ClipInput.rgbClip] layout); FASTER: the next clip of the
     * session. [record]: keep copies of the exact input and raw output bytes (parity dump).
     */
    fun run(rgbClip: ByteArray, record: Boolean = false): ClipResult {
        inBuf.clear()
        clipInput.writeTensor(rgbClip, inBuf)
        inBuf.rewind()
        return fasterModels?.run(record) ?: plain!!.run(record)
    }

    /** Runs exact input tensor bytes (the instrumented test feeds golden inputs). */
    fun runTensor(input: ByteArray): ClipResult {
        if (input.size != sidecar.input.byteSize()) {
            throw KvidException("${input.size} input bytes for a tensor of ${sidecar.input.byteSize()}")
        }
        inBuf.clear()
        inBuf.put(input)
        inBuf.rewind()
        return fasterModels?.run(false) ?: plain!!.run(false)
    }

    /** FASTER only: the clip model's raw feature bytes for exact input bytes (no step, no state change). */
    fun fasterFeatures(input: ByteArray, expensive: Boolean): ByteArray {
        val fm = fasterModels ?: throw KvidException("not a FASTER model")
        inBuf.clear()
        inBuf.put(input)
        inBuf.rewind()
        return fm.features(expensive).first
    }

    /**
     * Warm-up: [runs] runs of every model on a grey clip, then the FASTER state back to zero.
     * The first run of an XNNPACK interpreter packs weights and sizes buffers; timing it would
     * overstate the latency.
     */
    fun warmUp(runs: Int = 1) {
        val grey = clipInput.newRgbClip().also { it.fill(128.toByte()) }
        val f = fasterModels
        repeat(runs) {
            if (f != null) {
                f.features(true)
                f.features(false)
            }
            run(grey)
        }
        reset()
    }

    /** Starts a new FASTER sequence (a new video, a restarted camera, the Reset button); no-op for plain models. */
    fun reset() {
        faster?.reset()
    }

    override fun close() {
        interpreters.forEach { it.close() }
        interpreters.clear()
    }
}
