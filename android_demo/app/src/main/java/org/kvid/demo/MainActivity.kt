package org.kvid.demo

import android.Manifest
import android.content.Intent
import android.content.pm.PackageManager
import android.graphics.Color
import android.net.Uri
import android.os.Bundle
import android.view.OrientationEventListener
import android.view.View
import android.view.WindowManager
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.core.CameraSelector
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import java.util.Locale
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import org.kvid.core.ClipWindow
import org.kvid.core.DeviceRotation
import org.kvid.core.ModelAssets

/**
 * kvid demo: a video (the bundled sample or one picked from the phone) or the live camera
 * through an int8 model - the bundled one or one loaded at run time - with the top-5 and the
 * latency on screen.
 *
 * Threads: the UI thread; one worker that owns the [VideoClassifier] (loading, decoding,
 * inference - LiteRT interpreters are not thread-safe); CameraX's analyzer thread (frames into
 * the clip window). A video run polls a generation counter, so a new request or Cancel stops the
 * one in progress instead of queueing behind it.
 */
class MainActivity : ComponentActivity() {
    private val worker: ExecutorService = Executors.newSingleThreadExecutor()

    /** Written on the worker; read on the UI thread only for the immutable sidecar. */
    @Volatile
    private var classifier: VideoClassifier? = null

    @Volatile
    private var loadError: String = "no model loaded yet"
    private var source: ModelSource? = null
    private var threads = 0
    private val inferenceBusy = AtomicBoolean(false)
    private val generation = AtomicInteger()
    private var camera: CameraClips? = null
    private var cameraWanted = false
    private var lensFacing = CameraSelector.LENS_FACING_BACK
    private var busy = 0

    private lateinit var statusText: TextView
    private lateinit var resultText: TextView
    private lateinit var latencyText: TextView
    private lateinit var liveText: TextView
    private lateinit var previewView: PreviewView
    private lateinit var cameraButton: Button
    private lateinit var orientation: OrientationEventListener

    private val pickVideo = registerForActivityResult(ActivityResultContracts.GetContent()) { uri ->
        if (uri != null) classifyVideo { VideoFile.open(this, uri) }
    }

    private val pickModel = registerForActivityResult(ActivityResultContracts.OpenMultipleDocuments()) { uris ->
        if (uris.isNotEmpty()) importModel(uris)
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
        liveText = findViewById(R.id.liveText)
        previewView = findViewById(R.id.previewView)
        cameraButton = findViewById(R.id.cameraButton)

        findViewById<Button>(R.id.sampleButton).setOnClickListener {
            stopCamera()
            classifyVideo { VideoFile.openAsset(this, ModelAssets.SAMPLE_VIDEO) }
        }
        findViewById<Button>(R.id.pickButton).setOnClickListener {
            stopCamera()
            pickVideo.launch("video/*")
        }
        cameraButton.setOnClickListener {
            if (camera != null) {
                cameraWanted = false
                stopCamera()
            } else if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
                startCamera()
            } else {
                cameraPermission.launch(Manifest.permission.CAMERA)
            }
        }
        findViewById<Button>(R.id.switchButton).setOnClickListener {
            lensFacing = if (lensFacing == CameraSelector.LENS_FACING_BACK) CameraSelector.LENS_FACING_FRONT else CameraSelector.LENS_FACING_BACK
            if (camera != null) {
                stopCamera()
                startCamera()
            }
        }
        findViewById<Button>(R.id.resetButton).setOnClickListener { resetLive("reset") }
        findViewById<Button>(R.id.cancelButton).setOnClickListener {
            generation.incrementAndGet()
            latencyText.text = getString(R.string.cancelled)
        }
        findViewById<Button>(R.id.loadModelButton).setOnClickListener {
            pickModel.launch(arrayOf("application/json", "application/octet-stream", "*/*"))
        }
        findViewById<Button>(R.id.bundledModelButton).setOnClickListener { useModel(ModelSource.Bundled(assets)) }
        findViewById<Button>(R.id.benchmarkButton).setOnClickListener {
            stopCamera()
            startActivity(Intent(this, BenchmarkActivity::class.java))
        }

        val choices = Ui.threadChoices()
        threads = Ui.defaultThreads(choices)
        val spinner = findViewById<Spinner>(R.id.threadSpinner)
        spinner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, choices)
        spinner.setSelection(choices.indexOf(threads))
        spinner.onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>, view: View?, position: Int, id: Long) {
                if (choices[position] != threads) {
                    threads = choices[position]
                    source?.let { loadModel(it) }
                }
            }

            override fun onNothingSelected(parent: AdapterView<*>) = Unit
        }

        orientation = object : OrientationEventListener(this) {
            override fun onOrientationChanged(degrees: Int) {
                val r = DeviceRotation.surfaceRotation(degrees)
                if (r >= 0) camera?.setTargetRotation(r)
            }
        }

        val shared = Ui.sharedUris(intent)
        if (shared.isNotEmpty()) importModel(shared) else useModel(ModelSource.current(this))
    }

    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        val shared = Ui.sharedUris(intent)
        if (shared.isNotEmpty()) importModel(shared)
    }

    override fun onStart() {
        super.onStart()
        if (cameraWanted && camera == null) startCamera()
    }

    override fun onResume() {
        super.onResume()
        if (orientation.canDetectOrientation()) orientation.enable()
    }

    override fun onPause() {
        orientation.disable()
        super.onPause()
    }

    /**
     * Going to the background ends the live session: the camera is unbound, the clip window and
     * the FASTER state are cleared, a video run is cancelled - so the first clip after coming back
     * holds only new frames.
     */
    override fun onStop() {
        generation.incrementAndGet()
        if (camera != null) {
            stopCamera()
            cameraWanted = true
        }
        super.onStop()
    }

    override fun onDestroy() {
        camera?.shutdown()
        camera = null
        generation.incrementAndGet()
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

    /** Keeps the screen on while something runs (camera or video), so a demo does not dim mid-run. */
    private fun keepScreenOn(on: Boolean) {
        busy = maxOf(0, busy + if (on) 1 else -1)
        if (busy > 0) window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        else window.clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
    }

    private fun submit(task: () -> Unit): Boolean = try {
        worker.execute(task)
        true
    } catch (e: RejectedExecutionException) {
        false // the activity is going away
    }

    private fun useModel(s: ModelSource) {
        source = s
        ModelSource.remember(this, s)
        loadModel(s)
    }

    /** Copies picked or shared `.json` + `.tflite` files into the app and loads them (worker thread). */
    private fun importModel(uris: List<Uri>) {
        stopCamera()
        showStatus("importing ${uris.size} file(s) ...")
        submit {
            try {
                val s = ModelSource.import(this, uris)
                ui { useModel(s) }
            } catch (e: Exception) {
                ui { showStatus("load model: ${Ui.error(e)}", error = true) }
            }
        }
    }

    /** (Re)builds the interpreters of [s] with the chosen threads, warms them up; every later clip runs with them. */
    private fun loadModel(s: ModelSource) {
        stopCamera()
        generation.incrementAndGet()
        val n = threads
        showStatus("loading ${s.label} with $n threads ...")
        resultText.text = ""
        latencyText.text = ""
        submit {
            classifier?.close()
            classifier = null
            try {
                val c = VideoClassifier(s, n)
                val t0 = System.nanoTime()
                c.warmUp()
                val warm = System.nanoTime() - t0
                classifier = c
                ui { showStatus("${c.describe()}; warm-up ${Ui.ms(warm)}") }
            } catch (e: Exception) {
                loadError = "${s.label}: ${Ui.error(e)}"
                ui { showStatus(loadError, error = true) }
            }
        }
    }

    private fun noModel() {
        showStatus("no model loaded: $loadError", error = true)
        latencyText.text = ""
    }

    /**
     * The video path: every view (clip x crop) the sidecar asks for, decoded in one pass,
     * preprocessed once per frame, run, averaged (FASTER: its N clips in the #E:#C schedule, a
     * prediction after every clip). A newer request or Cancel stops it.
     */
    private fun classifyVideo(open: () -> VideoFile) {
        val gen = generation.incrementAndGet()
        val cancelled = { generation.get() != gen }
        resultText.text = ""
        latencyText.text = getString(R.string.decoding)
        keepScreenOn(true)
        val queued = submit {
            try {
                if (cancelled()) return@submit
                val c = classifier
                if (c == null) {
                    ui { noModel() }
                    return@submit
                }
                open().use { video ->
                    val r = VideoRun.run(c, video, cancelled, onClip = { k, n, clip ->
                        if (clip.expensive != null) {
                            val shown = Ui.top5(clip.scores, c.sidecar.labels)
                            ui {
                                if (!cancelled()) {
                                    resultText.text = shown
                                    latencyText.text = "clip ${k + 1}/$n ${if (clip.expensive) "expensive" else "cheap"}"
                                }
                            }
                        }
                    })
                    val text = Ui.top5(r.scores, c.sidecar.labels)
                    val s = r.stats
                    val latency = "model ${Ui.ms(r.modelNanos)} (${r.views} view${if (r.views > 1) "s" else ""}" +
                        (if (r.schedule.isNotEmpty()) " ${r.schedule}" else "") + ")\n" +
                        "end to end ${Ui.ms(r.totalNanos)}: decode ${Ui.ms(r.decodeNanos)} (${s.delivered} frames, " +
                        "${s.decoded} decoded, ${s.seeks} seeks), preprocess ${Ui.ms(r.preprocessNanos)}\n" +
                        "video: ${video.frameCount} frames, ${String.format(Locale.ROOT, "%.2f", video.fps)} fps, " +
                        "${video.codedWidth}x${video.codedHeight}, rotation ${video.rotation}" +
                        (if (s.substituted > 0) "\n${s.substituted} frame(s) the decoder skipped were replaced by the next" else "")
                    ui {
                        if (!cancelled()) {
                            resultText.text = text
                            latencyText.text = latency
                        }
                    }
                }
            } catch (e: CancelledException) {
                ui { latencyText.text = getString(R.string.cancelled) }
            } catch (e: Exception) {
                ui {
                    latencyText.text = ""
                    showStatus(Ui.error(e), error = true)
                }
            } finally {
                ui { keepScreenOn(false) }
            }
        }
        if (!queued) keepScreenOn(false)
    }

    /**
     * The camera path: a sliding window of T frames (FASTER: back-to-back clips of L frames, the
     * state carried over a window of N clips - the sidecar's clip count - then restarted, because
     * the step's int8 running average cannot run forever); a clip runs whenever the worker is
     * free, with the newest frames.
     */
    private fun startCamera() {
        val c = classifier
        if (c == null) {
            noModel()
            return
        }
        val sc = c.sidecar
        val f = sc.faster
        val pre = c.clipInput.preprocessor()
        val window = ClipWindow(sc.frames, pre.frameBytes(), if (f != null) sc.frames else 1,
            sc.clip.sampling().liveFrameIntervalMs(30.0, 3.0))
        inferenceBusy.set(false)
        submit {
            c.reset()
            val session = c.faster
            if (session != null && f != null) {
                session.setWindow(f.clips)
                val w = session.window()
                ui {
                    liveText.text = "FASTER live: the state is carried over windows of $w clips of ${f.clipFrames} frames, " +
                        "then starts again (Reset: now)"
                }
            }
        }
        val cam = CameraClips(
            this, this, previewView, pre, window, c.clipInput.newRgbClip().size,
            tryTakeClip = { inferenceBusy.compareAndSet(false, true) },
            onClip = { clip, age ->
                val handedOver = System.nanoTime()
                if (!submit { runLiveClip(c, clip, age, handedOver) }) inferenceBusy.set(false)
            },
        )
        camera = cam
        cameraWanted = true
        keepScreenOn(true)
        previewView.visibility = View.VISIBLE
        resultText.text = ""
        latencyText.text = "filling the clip window (${sc.frames} frames) ..."
        liveText.text = "live: a clip of the newest ${sc.frames} frames whenever the model is free (Reset clears them)"
        cameraButton.setText(R.string.stop)
        cam.start(lensFacing) { message -> ui { showStatus(message, error = true) } }
    }

    private fun runLiveClip(c: VideoClassifier, clip: ByteArray, captureAge: Long, handedOver: Long) {
        try {
            if (classifier !== c) return // the model changed since the camera started
            val session = c.faster
            val clipNo = (session?.clipIndex() ?: 0) + 1
            val r = c.run(clip)
            val text = Ui.top5(r.scores, c.sidecar.labels)
            val kind = when (r.expensive) {
                null -> ""
                true -> " · clip $clipNo/${session?.window()} expensive"
                false -> " · clip $clipNo/${session?.window()} cheap"
            }
            val sinceHandOver = System.nanoTime() - handedOver
            ui {
                if (camera != null) {
                    resultText.text = text
                    val e2e = if (captureAge >= 0) {
                        "capture to result ${Ui.ms(captureAge + sinceHandOver)}"
                    } else {
                        "clip to result ${Ui.ms(sinceHandOver)} (camera clock unknown)"
                    }
                    latencyText.text = "model ${Ui.ms(r.modelNanos)} · $e2e$kind"
                }
            }
        } catch (e: Exception) {
            ui { showStatus(Ui.error(e), error = true) }
        } finally {
            inferenceBusy.set(false)
        }
    }

    /** The visible Reset: forget the clip window and start the FASTER sequence over. */
    private fun resetLive(why: String) {
        camera?.clearWindow()
        submit { classifier?.reset() }
        if (camera != null) latencyText.text = "$why: filling the clip window again ..."
    }

    private fun stopCamera() {
        val cam = camera ?: return
        cam.shutdown()
        camera = null
        cameraWanted = false
        submit { classifier?.reset() }
        keepScreenOn(false)
        previewView.visibility = View.GONE
        liveText.text = ""
        cameraButton.setText(R.string.camera)
    }
}
