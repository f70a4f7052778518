package org.kvid.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Matrix
import android.media.MediaMetadataRetriever
import android.net.Uri
import android.os.Build
import org.kvid.core.Frame
import org.kvid.core.KvidException
import org.kvid.core.Sampling

/**
 * Frames of a video file by index, through [MediaMetadataRetriever]: frame i is the i-th frame
 * of the video, as in kvid.data (frame-accurate `getFrameAtIndex` on API 28+; below that the frame
 * shown at the middle of frame i's display interval, [Sampling.timestampUs], at the container's
 * frame rate).
 */
class VideoFrames private constructor(private val retriever: MediaMetadataRetriever, private val label: String) :
    AutoCloseable {

    val frameCount: Int
    val fps: Double
    private val rotation: Int
    private val codedWidth: Int

    init {
        fun meta(key: Int): String? = retriever.extractMetadata(key)
        val durationMs = meta(MediaMetadataRetriever.METADATA_KEY_DURATION)?.toLongOrNull() ?: 0L
        rotation = meta(MediaMetadataRetriever.METADATA_KEY_VIDEO_ROTATION)?.toIntOrNull() ?: 0
        codedWidth = meta(MediaMetadataRetriever.METADATA_KEY_VIDEO_WIDTH)?.toIntOrNull() ?: 0
        val count = if (Build.VERSION.SDK_INT >= 28) {
            meta(MediaMetadataRetriever.METADATA_KEY_VIDEO_FRAME_COUNT)?.toIntOrNull()
        } else {
            null
        }
        val captureFps = meta(MediaMetadataRetriever.METADATA_KEY_CAPTURE_FRAMERATE)?.toDoubleOrNull()
        fps = when {
            count != null && count > 0 && durationMs > 0 -> count * 1000.0 / durationMs
            captureFps != null && captureFps > 0 -> captureFps
            else -> 30.0 // no frame rate in the container: assume the common one
        }
        frameCount = count ?: (durationMs * fps / 1000.0).toInt()
        if (frameCount < 1) {
            throw KvidException("$label: no video frames (is it a video file?)")
        }
    }

    /** The frame at [index], upright, as ARGB pixels. */
    fun frame(index: Int): Frame {
        val bitmap: Bitmap? = if (Build.VERSION.SDK_INT >= 28) {
            retriever.getFrameAtIndex(index)
        } else {
            retriever.getFrameAtTime(Sampling.timestampUs(index, fps), MediaMetadataRetriever.OPTION_CLOSEST)
        }
        bitmap ?: throw KvidException("$label: cannot decode frame $index of $frameCount")
        // Retrievers differ in whether they apply the rotation metadata; rotate only a frame that
        // still has the coded (unrotated) orientation.
        val upright = if (rotation % 180 != 0 && bitmap.width == codedWidth) rotate(bitmap, rotation) else bitmap
        return toFrame(upright)
    }

    override fun close() {
        retriever.release()
    }

    companion object {
        fun open(context: Context, uri: Uri): VideoFrames {
            val r = MediaMetadataRetriever()
            try {
                r.setDataSource(context, uri)
            } catch (e: RuntimeException) {
                r.release()
                throw KvidException("$uri: cannot open the video: ${e.message}", e)
            }
            return VideoFrames(r, uri.lastPathSegment ?: uri.toString())
        }

        /** A video in the APK's assets (stored uncompressed, as aapt stores .mp4). */
        fun openAsset(context: Context, name: String): VideoFrames {
            val r = MediaMetadataRetriever()
            try {
                context.assets.openFd(name).use { fd -> r.setDataSource(fd.fileDescriptor, fd.startOffset, fd.length) }
            } catch (e: java.io.IOException) {
                r.release()
                throw KvidException("assets/$name: missing asset (put a sample video there, or pick one)", e)
            } catch (e: RuntimeException) {
                r.release()
                throw KvidException("assets/$name: cannot open the video: ${e.message}", e)
            }
            return VideoFrames(r, "assets/$name")
        }

        fun rotate(bitmap: Bitmap, degrees: Int): Bitmap {
            if (degrees % 360 == 0) return bitmap
            val m = Matrix().apply { postRotate(degrees.toFloat()) }
            return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, m, false) // 90° steps: exact, no filtering
        }

        fun toFrame(bitmap: Bitmap): Frame {
            val w = bitmap.width
            val h = bitmap.height
            val px = IntArray(w * h)
            bitmap.getPixels(px, 0, w, 0, 0, w, h)
            return Frame(px, w, h)
        }
    }
}
