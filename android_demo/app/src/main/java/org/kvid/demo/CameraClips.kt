package org.kvid.demo

import android.content.Context
import android.os.SystemClock
import android.util.Size
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
import java.util.concurrent.Executors
import org.kvid.core.ClipInput
import org.kvid.core.ClipWindow

/**
 * Live clips from the back camera: CameraX preview + an ImageAnalysis with keep-latest
 * backpressure (a slow phone drops camera frames instead of queueing them). Each analysed frame
 * is turned upright, preprocessed once and pushed into a [ClipWindow] (T frames, sliding);
 * when a clip is due and the consumer is free ([tryTakeClip]), the window's T frames go to
 * [onClip] with the time the newest frame arrived (for the end-to-end latency).
 */
class CameraClips(
    private val context: Context,
    private val owner: LifecycleOwner,
    private val previewView: PreviewView,
    private val clipInput: ClipInput,
    private val window: ClipWindow,
    private val tryTakeClip: () -> Boolean,
    private val onClip: (rgbClip: ByteArray, newestFrameNanos: Long) -> Unit,
) {
    private val analyzerExecutor = Executors.newSingleThreadExecutor()
    private var provider: ProcessCameraProvider? = null

    fun start(onError: (String) -> Unit) {
        val future = ProcessCameraProvider.getInstance(context)
        future.addListener({
            try {
                val cameraProvider = future.get()
                val preview = Preview.Builder().build()
                preview.setSurfaceProvider(previewView.surfaceProvider)
                val analysis = ImageAnalysis.Builder()
                    .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                    .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                    .setResolutionSelector(
                        ResolutionSelector.Builder()
                            .setResolutionStrategy(
                                ResolutionStrategy(Size(640, 480), ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER),
                            )
                            .build(),
                    )
                    .build()
                analysis.setAnalyzer(analyzerExecutor) { image -> analyze(image) }
                cameraProvider.unbindAll()
                cameraProvider.bindToLifecycle(owner, CameraSelector.DEFAULT_BACK_CAMERA, preview, analysis)
                provider = cameraProvider
            } catch (e: Exception) {
                onError("camera: ${e.message ?: e.javaClass.simpleName}")
            }
        }, ContextCompat.getMainExecutor(context))
    }

    private fun analyze(image: ImageProxy) {
        val arrived = SystemClock.elapsedRealtimeNanos()
        image.use {
            val ms = image.imageInfo.timestamp / 1e6
            if (!window.wants(ms)) return
            val frame = VideoFrames.toFrame(VideoFrames.rotate(image.toBitmap(), image.imageInfo.rotationDegrees))
            val pre = clipInput.preprocessor()
            val rgb = ByteArray(pre.frameBytes())
            pre.centerView(frame.argb, frame.width, frame.height, rgb, 0)
            window.push(rgb, ms)
            if (window.clipDue() && tryTakeClip()) {
                val clip = clipInput.newRgbClip()
                window.takeClip(clip)
                onClip(clip, arrived)
            }
        }
    }

    /** Unbinds the camera (main thread) and forgets the frames (on the analyzer's thread). */
    fun stop() {
        provider?.unbindAll()
        provider = null
        analyzerExecutor.execute { window.clear() }
    }

    fun shutdown() {
        stop()
        analyzerExecutor.shutdown()
    }
}
