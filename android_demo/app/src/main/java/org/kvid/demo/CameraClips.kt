package org.kvid.demo

import android.content.Context
import android.os.SystemClock
import android.util.Size
import android.view.Surface
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.core.resolutionselector.ResolutionStrategy
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import androidx.lifecycle.LifecycleOwner
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import org.kvid.core.CaptureClock
import org.kvid.core.ClipWindow
import org.kvid.core.Preprocessor
import org.kvid.core.RgbaPixels
import org.kvid.core.Rotated

/**
 * Live clips from a camera: CameraX preview + an ImageAnalysis with keep-latest backpressure (a
 * slow phone drops camera frames instead of queueing them). Each accepted frame is read in place
 * from the RGBA buffer, turned upright by the frame's `rotationDegrees` (which follows
 * [setTargetRotation], so rotating the phone keeps frames upright) and preprocessed straight into
 * the [ClipWindow]'s ring slot - no bitmap, no per-frame allocation. When a clip is due and the
 * consumer is free ([tryTakeClip]) the window's T frames are copied into one reused clip buffer
 * and handed to [onClip] with the frame's capture time; the consumer must be done with the buffer
 * before it lets [tryTakeClip] succeed again.
 *
 * Threads: [start]/[stop]/[setTargetRotation] on the main thread; frames on the analyzer thread,
 * which alone touches the window.
 */
class CameraClips(
    private val context: Context,
    private val owner: LifecycleOwner,
    private val previewView: PreviewView,
    private val pre: Preprocessor,
    private val window: ClipWindow,
    clipBytes: Int,
    private val tryTakeClip: () -> Boolean,
    private val onClip: (rgbClip: ByteArray, captureAgeNanos: Long) -> Unit,
) {
    private val analyzerExecutor: ExecutorService = Executors.newSingleThreadExecutor()
    private val clip = ByteArray(clipBytes)
    private var provider: ProcessCameraProvider? = null
    private var analysis: ImageAnalysis? = null
    private var rotation = Surface.ROTATION_0

    /** Bumped by every start and stop: a camera-provider future that resolves late binds only if it is still current. */
    private var generation = 0
    private var shutDown = false

    /** Opens the camera facing [lensFacing] (CameraSelector.LENS_FACING_BACK/FRONT). Main thread. */
    fun start(lensFacing: Int, onError: (String) -> Unit) {
        if (shutDown) return
        val token = ++generation
        val future = ProcessCameraProvider.getInstance(context)
        future.addListener({
            // stop() (or another start) came before the provider was ready: do not bind
            if (token != generation || shutDown) return@addListener
            try {
                val cameraProvider = future.get()
                val selector = CameraSelector.Builder().requireLensFacing(lensFacing).build()
                if (!cameraProvider.hasCamera(selector)) {
                    onError("camera: this phone has no ${if (lensFacing == CameraSelector.LENS_FACING_FRONT) "front" else "back"} camera")
                    return@addListener
                }
                // the preview follows the display (PreviewView lays it out); the analysis frames
                // follow the phone (setTargetRotation, from the orientation listener)
                val p = Preview.Builder().setTargetRotation(previewView.display?.rotation ?: Surface.ROTATION_0).build()
                p.setSurfaceProvider(previewView.surfaceProvider)
                val a = ImageAnalysis.Builder()
                    .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                    .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                    .setTargetRotation(rotation)
                    .setResolutionSelector(
                        ResolutionSelector.Builder()
                            .setResolutionStrategy(
                                ResolutionStrategy(Size(640, 480), ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER),
                            )
                            .build(),
                    )
                    .build()
                a.setAnalyzer(analyzerExecutor) { image -> analyze(image) }
                cameraProvider.unbindAll()
                cameraProvider.bindToLifecycle(owner, selector, p, a)
                provider = cameraProvider
                analysis = a
            } catch (e: Exception) {
                onError("camera: ${e.message ?: e.javaClass.simpleName}")
            }
        }, ContextCompat.getMainExecutor(context))
    }

    /**
     * The display rotation the frames should be upright for (Surface.ROTATION_*): called from an
     * OrientationEventListener, so it follows the phone even though the activity keeps running
     * across orientation changes.
     */
    fun setTargetRotation(surfaceRotation: Int) {
        if (surfaceRotation == rotation) return
        rotation = surfaceRotation
        analysis?.targetRotation = surfaceRotation
    }

    private fun analyze(image: ImageProxy) {
        image.use {
            val info = image.imageInfo
            val ms = info.timestamp / 1e6
            if (!window.wants(ms)) return
            val plane = image.planes[0]
            val frame = Rotated.of(RgbaPixels(plane.buffer, image.width, image.height, plane.rowStride, plane.pixelStride), info.rotationDegrees)
            window.push(frame, pre, ms)
            if (window.clipDue() && tryTakeClip()) {
                window.takeClip(clip)
                val age = CaptureClock.ageNanos(info.timestamp, SystemClock.elapsedRealtimeNanos(), System.nanoTime())
                onClip(clip, age)
            }
        }
    }

    /** Forgets the frames (on the analyzer's thread, after any frame in progress). */
    fun clearWindow() {
        if (!shutDown) analyzerExecutor.execute { window.clear() }
    }

    /** Unbinds the camera and forgets the frames. Main thread. */
    fun stop() {
        generation++
        analysis?.clearAnalyzer()
        provider?.unbindAll()
        provider = null
        analysis = null
        clearWindow()
    }

    fun shutdown() {
        stop()
        shutDown = true
        analyzerExecutor.shutdown()
    }
}
