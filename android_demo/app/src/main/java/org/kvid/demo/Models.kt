package org.kvid.demo

import android.content.res.AssetManager
import java.io.InputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.kvid.core.AssetSource
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

/** The APK's assets as core's [AssetSource]. */
class AndroidAssets(private val assets: AssetManager) : AssetSource {
    private val names: Set<String> = (assets.list("") ?: emptyArray()).toSet()
    override fun exists(name: String): Boolean = name in names
    override fun open(name: String): InputStream = assets.open(name)
    override fun describe(name: String): String = "assets/$name"
}

/** One clip's result: class scores (dequantised logits) and how long the model(s) took. */
class ClipResult(val scores: FloatArray, val modelNanos: Long, val expensive: Boolean?)

private fun directBuffer(bytes: Int): ByteBuffer = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder())

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
 * The model(s) named by the assets' sidecar, each in a LiteRT [Interpreter] with [threads]
 * threads and XNNPACK on, checked against the sidecar before anything runs. A plain export runs
 * one clip to scores; a FASTER export runs each clip through the expensive or the cheap model as
 * the pattern says, then the aggregator step, carrying the state ([FasterSession]).
 */
class VideoClassifier(assetManager: AssetManager, val threads: Int) : AutoCloseable {
    private val source = AndroidAssets(assetManager)
    val assets: ModelAssets = ModelAssets.load(source)
    val sidecar: Sidecar = assets.sidecar
    val clipInput: ClipInput = ClipInput.of(sidecar)
    private val interpreters = mutableListOf<Interpreter>()

    private fun load(name: String): Interpreter {
        val bytes = try {
            source.open(name).use { it.readBytes() }
        } catch (e: java.io.IOException) {
            throw KvidException("${source.describe(name)}: cannot read: ${e.message}", e)
        }
        val model = directBuffer(bytes.size).put(bytes)
        model.rewind()
        val options = Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true)
        val interpreter = try {
            Interpreter(model, options)
        } catch (e: IllegalArgumentException) {
            throw KvidException("${source.describe(name)}: not a loadable TFLite model: ${e.message}", e)
        }
        interpreters += interpreter
        return interpreter
    }

    private fun Interpreter.inputs() = (0 until inputTensorCount).map { getInputTensor(it).spec() }
    private fun Interpreter.outputs() = (0 until outputTensorCount).map { getOutputTensor(it).spec() }

    private fun checkSingle(name: String, interpreter: Interpreter) {
        if (interpreter.inputTensorCount != 1) {
            throw KvidException("${source.describe(name)}: expected one input (the clip), found ${interpreter.inputTensorCount}")
        }
        sidecar.checkInput(source.describe(name), interpreter.getInputTensor(0).spec())
    }

    private val inBuf: ByteBuffer = directBuffer(sidecar.input.byteSize())

    /** A plain export: clip in, class scores out. */
    private inner class PlainModel {
        val interpreter = load(ModelAssets.MODEL)
        val outSpec: TensorSpec
        val outBuf: ByteBuffer

        init {
            checkSingle(ModelAssets.MODEL, interpreter)
            if (interpreter.outputTensorCount != 1) {
                throw KvidException("${source.describe(ModelAssets.MODEL)}: expected one output (the class scores), " +
                    "found ${interpreter.outputTensorCount}")
            }
            outSpec = interpreter.getOutputTensor(0).spec()
            sidecar.checkOutput(source.describe(ModelAssets.MODEL), outSpec)
            outBuf = directBuffer(outSpec.byteSize())
        }

        fun run(): ClipResult {
            outBuf.clear()
            val t0 = System.nanoTime()
            interpreter.run(inBuf, outBuf)
            val dt = System.nanoTime() - t0
            outBuf.rewind()
            return ClipResult(Scores.read(outBuf, outSpec), dt, null)
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
                    throw KvidException("${source.describe(name)}: a FASTER clip model has one output (the feature map), " +
                        "found ${m.outputTensorCount}")
                }
            }
            signature = step.signatureKeys.firstOrNull()
                ?: throw KvidException("${source.describe(f.step)}: no signature (re-export the FASTER run with kvid)")
            val ins = step.getSignatureInputs(signature).toList().associateWith { step.getInputTensorFromSignature(it, signature).spec() }
            val outs = step.getSignatureOutputs(signature).toList().associateWith { step.getOutputTensorFromSignature(it, signature).spec() }
            val io = FasterSession.StepIo.fromSignature(source.describe(f.step), ins, outs, f.stateNames(), sidecar.numClasses())
            sidecar.checkOutput(source.describe(f.step), io.logits)
            val eSpec = expensive.getOutputTensor(0).spec()
            val cSpec = cheap.getOutputTensor(0).spec()
            session = FasterSession(f, eSpec, cSpec, io)
            eOut = directBuffer(eSpec.byteSize())
            cOut = directBuffer(cSpec.byteSize())
            stepIns = ins.mapValues { directBuffer(it.value.byteSize()) }
            stepOuts = outs.mapValues { directBuffer(it.value.byteSize()) }
        }

        fun run(): ClipResult {
            val isE = session.nextIsExpensive()
            val model = if (isE) expensive else cheap
            val featBuf = if (isE) eOut else cOut
            featBuf.clear()
            val t0 = System.nanoTime()
            model.run(inBuf, featBuf)
            val tClip = System.nanoTime() - t0
            for ((name, bytes) in session.stepInputs(bytesOf(featBuf), isE)) {
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
            return ClipResult(scores, tClip + tStep, isE)
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

    /** The FASTER session (schedule, clip counter, state), or null for a plain export. */
    val faster: FasterSession? get() = fasterModels?.session

    private fun bytesOf(buf: ByteBuffer): ByteArray {
        buf.rewind()
        return ByteArray(buf.remaining()).also { buf.get(it) }
    }

    /** Runs one preprocessed clip ([ClipInput.rgbClip] layout); FASTER: the next clip of the session. */
    fun run(rgbClip: ByteArray): ClipResult {
        inBuf.clear()
        clipInput.writeTensor(rgbClip, inBuf)
        inBuf.rewind()
        return fasterModels?.run() ?: plain!!.run()
    }

    /** Starts a new FASTER sequence (a new video or a restarted camera); no-op for plain models. */
    fun reset() {
        faster?.reset()
    }

    override fun close() {
        interpreters.forEach { it.close() }
        interpreters.clear()
    }
}
