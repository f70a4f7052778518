package org.kvid.demo

import android.content.Context
import android.graphics.ImageFormat
import android.media.Image
import android.media.MediaCodec
import android.media.MediaCodecInfo
import android.media.MediaExtractor
import android.media.MediaFormat
import android.media.MediaMetadataRetriever
import android.net.Uri
import java.io.IOException
import java.nio.ByteBuffer
import java.util.Arrays
import org.kvid.core.KvidException
import org.kvid.core.Pixels
import org.kvid.core.Rotated
import org.kvid.core.Yuv420

/** A run the user cancelled (or replaced by a newer one). */
class CancelledException : RuntimeException("cancelled")

/** What one decode pass did: frames out of the codec, seeks over gaps, frames substituted. */
class DecodeStats(val decoded: Int, val delivered: Int, val seeks: Int, val substituted: Int, val codec: String)

/**
 * Frames of a video file by index, decoded in one forward pass with MediaExtractor + MediaCodec
 * (every API level the app runs on: no `getFrameAtTime` RGB_565 fallback, no decode per frame).
 *
 * Frame i is the i-th frame in presentation order, as kvid.data counts frames (OpenCV/FFmpeg
 * decode every frame): [open] reads every sample's timestamp once (no decoding), so the frame
 * count is exact and each decoded frame's timestamp gives its index. [decode] feeds the codec
 * from the sync frame before the first wanted frame, seeks forward over gaps that contain a
 * sync frame (so a 32-frame segments clip of a long video does not decode it all), hands each
 * wanted frame over exactly once, upright, as core [Pixels] read straight from the codec's YUV
 * image (BT.601, OpenCV's arithmetic: core's [Yuv420]) - no bitmap, no RGB copy of the frame.
 */
class VideoFile private constructor(private val extractor: MediaExtractor, val label: String, rotationHint: Int?) :
    AutoCloseable {

    private val track: Int
    private val format: MediaFormat
    val mime: String
    /** Presentation timestamps (us) of every frame, ascending: index -> time. */
    private val pts: LongArray
    /** Presentation timestamps of the sync (key) frames, ascending. */
    private val syncPts: LongArray
    val frameCount: Int
    /** The container's frame rate (MediaFormat.KEY_FRAME_RATE), else the mean rate of the timestamps. */
    val fps: Double
    val codedWidth: Int
    val codedHeight: Int
    /** Clockwise degrees that turn the coded frames upright (the video's rotation metadata). */
    val rotation: Int

    init {
        var t = -1
        for (i in 0 until extractor.trackCount) {
            val m = extractor.getTrackFormat(i).getString(MediaFormat.KEY_MIME)
            if (m != null && m.startsWith("video/")) {
                t = i
                break
            }
        }
        if (t < 0) throw KvidException("$label: no video track (is it a video file?)")
        track = t
        format = extractor.getTrackFormat(track)
        mime = format.getString(MediaFormat.KEY_MIME) ?: throw KvidException("$label: the video track has no type")
        extractor.selectTrack(track)
        val times = ArrayList<Long>()
        val syncs = ArrayList<Long>()
        while (true) {
            val time = extractor.sampleTime
            if (time < 0) break
            times.add(time)
            if (extractor.sampleFlags and MediaExtractor.SAMPLE_FLAG_SYNC != 0) syncs.add(time)
            if (!extractor.advance()) break
        }
        pts = times.toLongArray().also { Arrays.sort(it) }
        syncPts = syncs.toLongArray().also { Arrays.sort(it) }
        frameCount = pts.size
        if (frameCount < 1 || syncPts.isEmpty()) throw KvidException("$label: no video frames (is it a video file?)")
        codedWidth = format.getInteger(MediaFormat.KEY_WIDTH)
        codedHeight = format.getInteger(MediaFormat.KEY_HEIGHT)
        fps = frameRate(format) ?: if (frameCount > 1 && pts.last() > pts.first()) {
            (frameCount - 1) * 1e6 / (pts.last() - pts.first())
        } else {
            0.0
        }
        rotation = if (format.containsKey(MediaFormat.KEY_ROTATION)) format.getInteger(MediaFormat.KEY_ROTATION) else rotationHint ?: 0
    }

    private fun indexOf(timeUs: Long): Int {
        val i = Arrays.binarySearch(pts, timeUs)
        if (i >= 0) return i
        // a codec that shifts timestamps by a rounding error: the nearest frame
        val ins = -i - 1
        return when {
            ins == 0 -> 0
            ins >= pts.size -> pts.size - 1
            timeUs - pts[ins - 1] <= pts[ins] - timeUs -> ins - 1
            else -> ins
        }
    }

    /** The last sync frame at or before [timeUs] (the first sync frame if there is none). */
    private fun syncAtOrBefore(timeUs: Long): Long {
        val i = Arrays.binarySearch(syncPts, timeUs)
        return syncPts[if (i >= 0) i else maxOf(0, -i - 2)]
    }

    /**
     * Decodes the frames [wanted] (ascending, distinct indices) and calls [onFrame] once per
     * wanted frame, in order, with the frame upright; the pixels are valid only during the call.
     * [cancelled] is polled between codec buffers ([CancelledException]).
     */
    fun decode(wanted: IntArray, cancelled: () -> Boolean, onFrame: (index: Int, frame: Pixels) -> Unit): DecodeStats {
        if (wanted.isEmpty()) return DecodeStats(0, 0, 0, 0, "")
        for (k in wanted.indices) {
            if (wanted[k] < 0 || wanted[k] >= frameCount || (k > 0 && wanted[k] <= wanted[k - 1])) {
                throw KvidException("$label: frame indices must be ascending in [0, $frameCount)")
            }
        }
        val codecFormat = extractor.getTrackFormat(track)
        codecFormat.setInteger(MediaFormat.KEY_COLOR_FORMAT, MediaCodecInfo.CodecCapabilities.COLOR_FormatYUV420Flexible)
        val codec = try {
            MediaCodec.createDecoderByType(mime)
        } catch (e: IOException) {
            throw KvidException("$label: no decoder for $mime on this phone", e)
        } catch (e: IllegalArgumentException) {
            throw KvidException("$label: no decoder for $mime on this phone", e)
        }
        val codecName = codec.name
        try {
            codec.configure(codecFormat, null, null, 0)
            codec.start()
            val info = MediaCodec.BufferInfo()
            var outFormat = codec.outputFormat
            var next = 0
            var decoded = 0
            var seeks = 0
            var substituted = 0
            var inputDone = false
            var lastQueuedSync = Long.MIN_VALUE
            var idleSince = System.nanoTime()
            extractor.seekTo(syncAtOrBefore(pts[wanted[0]]), MediaExtractor.SEEK_TO_PREVIOUS_SYNC)
            while (next < wanted.size) {
                if (cancelled()) throw CancelledException()
                if (!inputDone) {
                    // jump over a gap that holds a sync frame not fed yet: nothing the codec still
                    // holds is wanted (the frames before the next wanted one are all out)
                    val target = syncAtOrBefore(pts[wanted[next]])
                    val current = extractor.sampleTime
                    if (target > lastQueuedSync && current >= 0 && current < target) {
                        codec.flush()
                        extractor.seekTo(target, MediaExtractor.SEEK_TO_PREVIOUS_SYNC)
                        seeks++
                    }
                    val inIdx = codec.dequeueInputBuffer(TIMEOUT_US)
                    if (inIdx >= 0) {
                        val buf = codec.getInputBuffer(inIdx) ?: throw KvidException("$label: the decoder gave no input buffer")
                        val size = extractor.readSampleData(buf, 0)
                        if (size < 0) {
                            codec.queueInputBuffer(inIdx, 0, 0, 0, MediaCodec.BUFFER_FLAG_END_OF_STREAM)
                            inputDone = true
                        } else {
                            val time = extractor.sampleTime
                            if (extractor.sampleFlags and MediaExtractor.SAMPLE_FLAG_SYNC != 0) {
                                lastQueuedSync = maxOf(lastQueuedSync, time)
                            }
                            codec.queueInputBuffer(inIdx, 0, size, time, 0)
                            extractor.advance()
                        }
                    }
                }
                val outIdx = codec.dequeueOutputBuffer(info, TIMEOUT_US)
                if (outIdx == MediaCodec.INFO_OUTPUT_FORMAT_CHANGED) {
                    outFormat = codec.outputFormat
                } else if (outIdx >= 0) {
                    idleSince = System.nanoTime()
                    val eos = info.flags and MediaCodec.BUFFER_FLAG_END_OF_STREAM != 0
                    if (info.size > 0) {
                        decoded++
                        val index = indexOf(info.presentationTimeUs)
                        if (index >= wanted[next]) {
                            withFrame(codec, outIdx, outFormat) { frame ->
                                val upright = Rotated.of(frame, rotation)
                                // a wanted frame the codec never produced gets the next one that came out
                                while (next < wanted.size && wanted[next] <= index) {
                                    if (wanted[next] < index) substituted++
                                    onFrame(wanted[next], upright)
                                    next++
                                }
                            }
                        }
                    }
                    codec.releaseOutputBuffer(outIdx, false)
                    if (eos) break
                } else if (System.nanoTime() - idleSince > STALL_NANOS) {
                    throw KvidException("$label: the decoder ($codecName) stopped producing frames")
                }
            }
            if (next < wanted.size) {
                throw KvidException("$label: frames ${wanted[next]}..${wanted.last()} of $frameCount could not be decoded")
            }
            return DecodeStats(decoded, wanted.size, seeks, substituted, codecName)
        } catch (e: MediaCodec.CodecException) {
            throw KvidException("$label: the decoder ($codecName) failed: ${e.message}", e)
        } finally {
            try {
                codec.stop()
            } catch (e: IllegalStateException) {
                // not started: nothing to stop
            }
            codec.release()
        }
    }

    /** The decoded frame of output buffer [outIdx] as core pixels, while [use] runs. */
    private fun withFrame(codec: MediaCodec, outIdx: Int, outFormat: MediaFormat, use: (Pixels) -> Unit) {
        val full = outFormat.containsKey(MediaFormat.KEY_COLOR_RANGE) &&
            outFormat.getInteger(MediaFormat.KEY_COLOR_RANGE) == MediaFormat.COLOR_RANGE_FULL
        val image: Image? = codec.getOutputImage(outIdx)
        if (image != null) {
            image.use {
                if (it.format != ImageFormat.YUV_420_888) {
                    throw KvidException("$label: the decoder gives frames in image format ${it.format}, not 8-bit " +
                        "YUV 4:2:0 (a 10-bit/HDR video?)")
                }
                val p = it.planes
                val crop = it.cropRect
                use(
                    Yuv420(
                        p[0].buffer, p[0].rowStride, p[0].pixelStride, p[1].buffer, p[1].rowStride, p[1].pixelStride,
                        p[2].buffer, p[2].rowStride, p[2].pixelStride, crop.left, crop.top, crop.width(), crop.height(), full,
                    ),
                )
            }
            return
        }
        // codecs that give no Image: the raw buffer in the output format's planar/semi-planar layout
        val buf: ByteBuffer = codec.getOutputBuffer(outIdx) ?: throw KvidException("$label: the decoder gave no frame buffer")
        val w = outFormat.getInteger(MediaFormat.KEY_WIDTH)
        val h = outFormat.getInteger(MediaFormat.KEY_HEIGHT)
        val stride = if (outFormat.containsKey(MediaFormat.KEY_STRIDE)) outFormat.getInteger(MediaFormat.KEY_STRIDE) else w
        val slice = if (outFormat.containsKey(MediaFormat.KEY_SLICE_HEIGHT)) outFormat.getInteger(MediaFormat.KEY_SLICE_HEIGHT) else h
        fun key(k: String, d: Int) = if (outFormat.containsKey(k)) outFormat.getInteger(k) else d
        val left = key("crop-left", 0)
        val top = key("crop-top", 0)
        val right = key("crop-right", w - 1)
        val bottom = key("crop-bottom", h - 1)
        val chroma = stride * maxOf(slice, h)
        val y = buf.duplicate()
        when (val color = outFormat.getInteger(MediaFormat.KEY_COLOR_FORMAT)) {
            MediaCodecInfo.CodecCapabilities.COLOR_FormatYUV420Planar -> {
                val cStride = stride / 2
                val u = slice(buf, chroma)
                val v = slice(buf, chroma + cStride * ((maxOf(slice, h) + 1) / 2))
                use(Yuv420(y, stride, 1, u, cStride, 1, v, cStride, 1, left, top, right - left + 1, bottom - top + 1, full))
            }
            MediaCodecInfo.CodecCapabilities.COLOR_FormatYUV420SemiPlanar -> {
                val u = slice(buf, chroma)
                val v = slice(buf, chroma + 1)
                use(Yuv420(y, stride, 1, u, stride, 2, v, stride, 2, left, top, right - left + 1, bottom - top + 1, full))
            }
            else -> throw KvidException("$label: the decoder's colour format $color is not YUV 4:2:0 (planar or semi-planar)")
        }
    }

    private fun slice(buf: ByteBuffer, offset: Int): ByteBuffer {
        val d = buf.duplicate()
        d.position(buf.position() + offset)
        return d.slice()
    }

    override fun close() {
        extractor.release()
    }

    companion object {
        private const val TIMEOUT_US = 10_000L
        private const val STALL_NANOS = 5_000_000_000L

        private fun frameRate(f: MediaFormat): Double? {
            if (!f.containsKey(MediaFormat.KEY_FRAME_RATE)) return null
            // "Integer or Float" (MediaFormat's table): containers differ
            val r = try {
                f.getInteger(MediaFormat.KEY_FRAME_RATE).toDouble()
            } catch (e: ClassCastException) {
                f.getFloat(MediaFormat.KEY_FRAME_RATE).toDouble()
            }
            return if (r > 0) r else null
        }

        private fun retrieverRotation(setSource: (MediaMetadataRetriever) -> Unit): Int? {
            val r = MediaMetadataRetriever()
            return try {
                setSource(r)
                r.extractMetadata(MediaMetadataRetriever.METADATA_KEY_VIDEO_ROTATION)?.toIntOrNull()
            } catch (e: RuntimeException) {
                null
            } finally {
                r.release()
            }
        }

        fun open(context: Context, uri: Uri): VideoFile {
            val label = uri.lastPathSegment ?: uri.toString()
            val e = MediaExtractor()
            try {
                e.setDataSource(context, uri, null)
            } catch (x: IOException) {
                e.release()
                throw KvidException("$label: cannot open the video: ${x.message}", x)
            }
            return create(e, label) { retrieverRotation { r -> r.setDataSource(context, uri) } }
        }

        /** A video in the APK's assets (stored uncompressed, as aapt stores .mp4). */
        fun openAsset(context: Context, name: String): VideoFile {
            val e = MediaExtractor()
            try {
                context.assets.openFd(name).use { fd -> e.setDataSource(fd.fileDescriptor, fd.startOffset, fd.length) }
            } catch (x: IOException) {
                e.release()
                throw KvidException("assets/$name: missing (put a sample video there, or pick one)", x)
            }
            return create(e, "assets/$name") {
                retrieverRotation { r -> context.assets.openFd(name).use { fd -> r.setDataSource(fd.fileDescriptor, fd.startOffset, fd.length) } }
            }
        }

        private fun create(e: MediaExtractor, label: String, rotation: () -> Int?): VideoFile {
            try {
                return VideoFile(e, label, rotation())
            } catch (t: Throwable) {
                e.release()
                throw t
            }
        }
    }
}
