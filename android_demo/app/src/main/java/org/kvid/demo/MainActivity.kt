package org.kvid.demo

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.Color
import android.os.Bundle
import android.os.SystemClock
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import java.util.Locale
import java.util.concurrent.Executors
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.atomic.AtomicBoolean
import org.kvid.core.ClipWindow
import org.kvid.core.KvidException
import org.kvid.core.ModelAssets
import org.kvid.core.Scores

/**
 * kvid demo: a video (the bundled sample or one picked from the phone) or the live camera
 * through the exported int8 model; top-5 and latency on screen.
 *
 * Threads: the UI thread; one worker that owns the [VideoClassifier] (loading, decoding,
 * inference - LiteRT interpreters are not thread-safe); CameraX's analyzer thread (frames into
 * the clip window).
 */
class MainActivity : ComponentActivity() {
    private val worker = Executors.newSingleThreadExecutor()

    /** Written on the worker; read on the UI thread only for the immutable sidecar. */
    @Volatile
    private var classifier: VideoClassifier? = null
    private var threads = 0
    private val inferenceBusy = AtomicBoolean(false)
    private var camera: CameraClips? = null

    private lateinit var statusText: TextView
    private lateinit var resultText: TextView
    private lateinit var latencyText: TextView
    private lateinit var previewView: PreviewView

    private val pickVideo = registerForActivityResult(ActivityResultContracts.GetContent()) { uri ->
        if (uri != null) classifyVideo { VideoFrames.open(this, uri) }
    }

    private val cameraPermission = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else showStatus(getString(R.string.no_camera_permission), error = true)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        statusText = findViewById(R.id.statusText)
        resultText = findViewById(R.id.resultText)
        latencyText = findViewById(R.id.latencyText)
        previewView = findViewById(R.id.previewView)

        findViewById<Button>(R.id.sampleButton).setOnClickListener {
            stopCamera()
            classifyVideo { VideoFrames.openAsset(this, ModelAssets.SAMPLE_VIDEO) }
        }
        findViewById<Button>(R.id.pickButton).setOnClickListener {
            stopCamera()
            pickVideo.launch("video/*")
        }
        findViewById<Button>(R.id.cameraButton).setOnClickListener {
            if (camera != null) {
                stopCamera()
            } else if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
                startCamera()
            } else {
                cameraPermission.launch(Manifest.permission.CAMERA)
            }
        }

        val cores = Runtime.getRuntime().availableProcessors()
        val choices = (listOf(1, 2, 4, 6, 8).filter { it <= maxOf(cores, 4) })
        val spinner = findViewById<Spinner>(R.id.threadSpinner)
        spinner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, choices)
        spinner.setSelection(choices.indexOf(minOf(4, cores).let { c -> choices.lastOrNull { it <= c } ?: 1 }))
        spinner.onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>, view: View?, position: Int, id: Long) {
                val n = choices[position]
                if (n != threads) {
                    threads = n
                    loadModel(n)
                }
            }

            override fun onNothingSelected(parent: AdapterView<*>) = Unit
        }
    }

    override fun onDestroy() {
        camera?.shutdown()
        camera = null
        worker.execute {
            classifier?.close()
            classifier = null
        }
        worker.shutdown()
        super.onDestroy()
    }

    private fun ui(block: () -> Unit) = runOnUiThread { block() }

    private fun showStatus(text: String, error: Boolean = false) {
        statusText.text = text
        statusText.setTextColor(if (error) Color.RED else Color.DKGRAY)
    }

    private fun errorText(e: Throwable): String = when (e) {
        is KvidException -> e.message ?: "error"
        else -> "${e.javaClass.simpleName}: ${e.message}"
    }

    /** (Re)builds the interpreters with [n] threads; every later clip runs with them. */
    private fun loadModel(n: Int) {
        showStatus("loading the model with $n threads ...")
        worker.execute {
            classifier?.close()
            classifier = null
            try {
                val c = VideoClassifier(assets, n)
                classifier = c
                val sc = c.sidecar
                val f = sc.faster
                val what = if (f == null) {
                    "${sc.sampling.scheme} sampling, ${sc.sampling.clips} clip(s)"
                } else {
                    "FASTER ${f.expensivePerPeriod}:${f.cheapPerPeriod}, ${f.clips} clips of ${f.clipFrames} frames"
                }
                ui {
                    showStatus(
                        "${sc.model.ifEmpty { "model" }}: ${sc.numClasses()} classes, ${sc.frames}x${sc.height}x${sc.width}, " +
                            "${sc.input.dtype} input, $what; $n threads, XNNPACK on",
                    )
                }
            } catch (e: Exception) {
                ui { showStatus(errorText(e), error = true) }
            }
        }
    }

    private fun top5Text(scores: FloatArray): String {
        val labels = classifier?.sidecar?.labels ?: return ""
        return Scores.top(scores, labels, 5).mapIndexed { i, p ->
            String.format(Locale.ROOT, "%d. %-22s %5.1f%%", i + 1, p.label, p.probability * 100.0)
        }.joinToString("\n")
    }

    private fun ms(nanos: Long) = String.format(Locale.ROOT, "%.1f ms", nanos / 1e6)

    /**
     * The video path: sample the clips the sidecar asks for (FASTER: N clips of L frames), fetch
     * exactly those frames, preprocess each once, run the clips. A plain model's clip scores are
     * averaged; a FASTER model shows its prediction after every clip.
     */
    private fun classifyVideo(open: () -> VideoFrames) {
        resultText.text = ""
        latencyText.text = "decoding ..."
        worker.execute {
            val c = classifier
            if (c == null) {
                ui { latencyText.text = "" }
                return@execute
            }
            try {
                val t0 = System.nanoTime()
                open().use { video ->
                    val sc = c.sidecar
                    val f = sc.faster
                    val sampling = if (f == null) sc.sampling else sc.sampling.with(f.clipFrames, f.clips)
                    val pre = c.clipInput.preprocessor()
                    val cache = HashMap<Int, ByteArray>()
                    val sum = FloatArray(sc.numClasses())
                    var modelNanos = 0L
                    var last = FloatArray(0)
                    val schedule = StringBuilder()
                    c.reset()
                    for (k in 0 until sampling.clips) {
                        val idx = sampling.indices(video.frameCount, k)
                        val rgb = c.clipInput.newRgbClip()
                        for ((t, i) in idx.withIndex()) {
                            val frameRgb = cache.getOrPut(i) {
                                val frame = video.frame(i)
                                ByteArray(pre.frameBytes()).also { pre.centerView(frame.argb, frame.width, frame.height, it, 0) }
                            }
                            System.arraycopy(frameRgb, 0, rgb, t * pre.frameBytes(), pre.frameBytes())
                        }
                        val r = c.run(rgb)
                        modelNanos += r.modelNanos
                        last = r.scores
                        for (j in sum.indices) sum[j] += r.scores[j]
                        if (r.expensive != null) {
                            schedule.append(if (r.expensive) 'E' else 'C')
                            val shown = top5Text(r.scores)
                            val progress = "clip ${k + 1}/${sampling.clips} [$schedule]"
                            ui {
                                resultText.text = shown
                                latencyText.text = progress
                            }
                        }
                    }
                    val overall = if (f != null) last else FloatArray(sum.size) { sum[it] / sampling.clips }
                    val e2e = System.nanoTime() - t0
                    val text = top5Text(overall)
                    val latency = "model ${ms(modelNanos)} (${sampling.clips} clip${if (sampling.clips > 1) "s" else ""}" +
                        (if (schedule.isNotEmpty()) " $schedule" else "") + ")\n" +
                        "end to end ${ms(e2e)} (decode ${cache.size} frames + preprocess + model)\n" +
                        "video: ${video.frameCount} frames, ${String.format(Locale.ROOT, "%.1f", video.fps)} fps"
                    ui {
                        resultText.text = text
                        latencyText.text = latency
                    }
                }
            } catch (e: Exception) {
                ui {
                    latencyText.text = ""
                    showStatus(errorText(e), error = true)
                }
            }
        }
    }

    /**
     * The camera path: a sliding window of T frames (FASTER: back-to-back clips of L frames, the
     * state carried from clip to clip for as long as the camera runs, as kvid.runtime's
     * FasterStream does); a clip runs whenever the worker is free, with the latest frames.
     */
    private fun startCamera() {
        val c = classifier
        if (c == null) {
            showStatus("no model loaded", error = true)
            return
        }
        val sc = c.sidecar
        val f = sc.faster
        val window = ClipWindow(
            sc.frames,
            c.clipInput.preprocessor().frameBytes(),
            if (f != null) sc.frames else 1,
            sc.sampling.liveFrameIntervalMs(30.0, 3.0),
        )
        worker.execute { classifier?.reset() }
        inferenceBusy.set(false)
        val cam = CameraClips(
            this, this, previewView, c.clipInput, window,
            tryTakeClip = { inferenceBusy.compareAndSet(false, true) },
            onClip = { clip, arrived ->
                try {
                    worker.execute { runLiveClip(clip, arrived) }
                } catch (e: RejectedExecutionException) {
                    inferenceBusy.set(false) // the activity is going away
                }
            },
        )
        camera = cam
        previewView.visibility = View.VISIBLE
        resultText.text = ""
        latencyText.text = "filling the clip window (${sc.frames} frames) ..."
        findViewById<Button>(R.id.cameraButton).setText(R.string.stop)
        cam.start { message -> ui { showStatus(message, error = true) } }
    }

    private fun runLiveClip(clip: ByteArray, arrivedNanos: Long) {
        try {
            val c = classifier ?: return
            val clipNo = (c.faster?.clipIndex() ?: 0) + 1
            val r = c.run(clip)
            val e2e = SystemClock.elapsedRealtimeNanos() - arrivedNanos
            val text = top5Text(r.scores)
            val kind = when (r.expensive) {
                null -> ""
                true -> " · clip $clipNo expensive"
                false -> " · clip $clipNo cheap"
            }
            val latency = "model ${ms(r.modelNanos)} · end to end ${ms(e2e)} (newest frame to result)$kind"
            ui {
                if (camera != null) {
                    resultText.text = text
                    latencyText.text = latency
                }
            }
        } catch (e: Exception) {
            ui { showStatus(errorText(e), error = true) }
        } finally {
            inferenceBusy.set(false)
        }
    }

    private fun stopCamera() {
        val cam = camera ?: return
        cam.shutdown()
        camera = null
        previewView.visibility = View.GONE
        findViewById<Button>(R.id.cameraButton).setText(R.string.camera)
    }
}
