package org.kvid.demo

import android.graphics.Color
import android.net.Uri
import android.os.Build
import android.os.Bundle
import android.view.WindowManager
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.EditText
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import java.io.IOException
import java.util.Locale
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.atomic.AtomicInteger
import org.kvid.core.KvidException
import org.kvid.core.ModelAssets
import org.kvid.core.ParityDump
import org.kvid.core.Timings

/**
 * Benchmark and parity: the current model (bundled or imported) on one video, with a thread
 * count; W warm-up runs of the whole pipeline (not timed), then N timed runs, each split into
 * decode, preprocessing and model time, summarised as median and p90 (core's [Timings]: numpy's
 * percentile definition). The last timed run also records a parity dump - the exact input bytes
 * and raw outputs of every view - that "Save parity dump" writes to a file for
 * `kvid predict MODEL VIDEO --compare FILE` on the desktop.
 */
class BenchmarkActivity : ComponentActivity() {
    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private val generation = AtomicInteger()
    private var video: Uri? = null

    @Volatile
    private var dump: ParityDump? = null
    private var dumpName = "kvid-parity.zip"

    private lateinit var statusText: TextView
    private lateinit var outputText: TextView
    private lateinit var warmupEdit: EditText
    private lateinit var runsEdit: EditText
    private lateinit var threadSpinner: Spinner
    private lateinit var saveButton: Button

    private val pickVideo = registerForActivityResult(ActivityResultContracts.GetContent()) { uri ->
        if (uri != null) {
            video = uri
            status("video: ${uri.lastPathSegment ?: uri}")
        }
    }

    private val saveDump = registerForActivityResult(ActivityResultContracts.CreateDocument("application/zip")) { uri ->
        val d = dump
        if (uri != null && d != null) {
            worker.execute {
                try {
                    val out = contentResolver.openOutputStream(uri) ?: throw IOException("cannot open $uri")
                    out.use { d.write(it) }
                    runOnUiThread { status("parity dump written (${d.views()} views): compare it with " +
                        "`kvid predict MODEL.tflite VIDEO --compare $dumpName`") }
                } catch (e: IOException) {
                    runOnUiThread { status("parity dump: ${e.message}", error = true) }
                }
            }
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_benchmark)
        statusText = findViewById(R.id.benchStatus)
        outputText = findViewById(R.id.benchOutput)
        warmupEdit = findViewById(R.id.warmupEdit)
        runsEdit = findViewById(R.id.runsEdit)
        threadSpinner = findViewById(R.id.benchThreadSpinner)
        saveButton = findViewById(R.id.saveDumpButton)

        val choices = Ui.threadChoices()
        threadSpinner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, choices)
        threadSpinner.setSelection(choices.indexOf(Ui.defaultThreads(choices)))
        findViewById<Button>(R.id.benchSampleButton).setOnClickListener {
            video = null
            status("video: assets/${ModelAssets.SAMPLE_VIDEO}")
        }
        findViewById<Button>(R.id.benchPickButton).setOnClickListener { pickVideo.launch("video/*") }
        findViewById<Button>(R.id.runButton).setOnClickListener { run(choices[threadSpinner.selectedItemPosition]) }
        findViewById<Button>(R.id.benchCancelButton).setOnClickListener {
            generation.incrementAndGet()
            status(getString(R.string.cancelled))
        }
        saveButton.setOnClickListener { saveDump.launch(dumpName) }
        saveButton.isEnabled = false
        status("model: ${ModelSource.current(this).label}; video: assets/${ModelAssets.SAMPLE_VIDEO}")
    }

    override fun onStop() {
        generation.incrementAndGet()
        super.onStop()
    }

    override fun onDestroy() {
        generation.incrementAndGet()
        worker.shutdown()
        super.onDestroy()
    }

    private fun status(text: String, error: Boolean = false) {
        statusText.text = text
        statusText.setTextColor(if (error) Color.RED else Color.DKGRAY)
    }

    private fun count(edit: EditText, name: String, min: Int): Int {
        val n = edit.text.toString().trim().toIntOrNull()
        if (n == null || n < min) throw KvidException("$name: give a whole number of at least $min")
        return n
    }

    private fun run(threads: Int) {
        val warm: Int
        val runs: Int
        try {
            warm = count(warmupEdit, "warm-up runs", 0)
            runs = count(runsEdit, "timed runs", 1)
        } catch (e: KvidException) {
            status(Ui.error(e), error = true)
            return
        }
        val gen = generation.incrementAndGet()
        val cancelled = { generation.get() != gen }
        val uri = video
        val source = ModelSource.current(this)
        saveButton.isEnabled = false
        outputText.text = ""
        status("loading ${source.label} with $threads threads ...")
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        try {
            worker.execute { bench(source, threads, uri, warm, runs, cancelled) }
        } catch (e: RejectedExecutionException) {
            window.clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        }
    }

    private fun bench(source: ModelSource, threads: Int, uri: Uri?, warm: Int, runs: Int, cancelled: () -> Boolean) {
        try {
            VideoClassifier(source, threads).use { c ->
                val open = { if (uri != null) VideoFile.open(this, uri) else VideoFile.openAsset(this, ModelAssets.SAMPLE_VIDEO) }
                open().use { v ->
                    val timings = Timings()
                    var last: VideoResult? = null
                    var d: ParityDump? = null
                    for (i in 0 until warm + runs) {
                        if (cancelled()) throw CancelledException()
                        val timed = i >= warm
                        val label = if (timed) "timed run ${i - warm + 1}/$runs" else "warm-up ${i + 1}/$warm"
                        runOnUiThread { status("${c.describe()}\n$label ...") }
                        val record = if (i == warm + runs - 1) ParityDump(c.assets.sidecarText) else null
                        val r = VideoRun.run(c, v, cancelled, dump = record)
                        if (timed) {
                            timings.add("decode", r.decodeNanos)
                            timings.add("preprocess", r.preprocessNanos)
                            timings.add("model", r.modelNanos)
                            timings.add("model/view", r.modelNanos / r.views)
                            timings.add("total", r.totalNanos)
                        }
                        last = r
                        d = record
                    }
                    val r = last ?: return
                    val s = r.stats
                    val text = buildString {
                        append(c.describe()).append('\n')
                        append("${Build.MANUFACTURER} ${Build.MODEL}, Android ${Build.VERSION.RELEASE} (API ${Build.VERSION.SDK_INT})\n")
                        append("${v.label}: ${v.frameCount} frames, ${String.format(Locale.ROOT, "%.2f", v.fps)} fps, " +
                            "${v.codedWidth}x${v.codedHeight}, rotation ${v.rotation}; decoder ${s.codec}\n")
                        append("per run: ${r.views} view(s), ${s.delivered} frames wanted, ${s.decoded} decoded, ${s.seeks} seeks")
                        if (s.substituted > 0) append(", ${s.substituted} substituted")
                        append("\n$warm warm-up run(s), $runs timed:\n")
                        append(timings.table())
                        append("\n").append(Ui.top5(r.scores, c.sidecar.labels))
                    }
                    dump = d
                    dumpName = "kvid-parity-${c.sidecar.model.ifEmpty { "model" }}.zip"
                    runOnUiThread {
                        outputText.text = text
                        saveButton.isEnabled = d != null
                        status("done; save the parity dump to compare it with kvid on the desktop")
                    }
                }
            }
        } catch (e: CancelledException) {
            runOnUiThread { status(getString(R.string.cancelled)) }
        } catch (e: Exception) {
            runOnUiThread { status(Ui.error(e), error = true) }
        } finally {
            runOnUiThread { window.clearFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON) }
        }
    }
}
