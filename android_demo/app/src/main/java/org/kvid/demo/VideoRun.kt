package org.kvid.demo

import android.os.Build
import org.kvid.core.ParityDump
import org.kvid.core.VideoPlan
import org.kvid.core.VideoScores

/** The outcome of one video through the model: the video's scores and where the time went. */
class VideoResult(
    /** Plain model: the mean over every view (clip x crop) of the dequantised logits; FASTER: after the last clip. */
    val scores: FloatArray,
    val views: Int,
    /** FASTER: 'E'/'C' per clip, else empty. */
    val schedule: String,
    val decodeNanos: Long,
    val preprocessNanos: Long,
    val modelNanos: Long,
    val totalNanos: Long,
    val stats: DecodeStats,
)

/**
 * A whole video, as `kvid predict` runs it: core's [VideoPlan] says which frames each view
 * needs; [VideoFile.decode] decodes them in one pass and each frame is preprocessed once into
 * every view slot that uses it (so decode and preprocessing are timed apart); then every view
 * runs through the model and core's [VideoScores] averages them (FASTER: the clips run in order,
 * the state carried, a prediction after each). With a [ParityDump], every view's exact input
 * bytes and raw outputs are recorded for `kvid predict --compare`.
 */
object VideoRun {
    fun run(
        c: VideoClassifier,
        video: VideoFile,
        cancelled: () -> Boolean,
        onClip: (clip: Int, clips: Int, result: ClipResult) -> Unit = { _, _, _ -> },
        dump: ParityDump? = null,
    ): VideoResult {
        val t0 = System.nanoTime()
        val sc = c.sidecar
        val plan = VideoPlan(sc.videoSpec(), video.frameCount)
        val viewClips = plan.newViewClips(c.clipInput)
        var preprocessNanos = 0L
        val tDecode = System.nanoTime()
        val stats = video.decode(plan.frames(), cancelled) { index, frame ->
            val tp = System.nanoTime()
            plan.place(index, frame, c.clipInput, viewClips)
            preprocessNanos += System.nanoTime() - tp
        }
        val decodeNanos = System.nanoTime() - tDecode - preprocessNanos
        c.reset()
        val video2 = VideoScores(sc.numClasses())
        var last = FloatArray(0)
        var modelNanos = 0L
        val schedule = StringBuilder()
        for (v in 0 until plan.views()) {
            if (cancelled()) throw CancelledException()
            val r = c.run(viewClips[v], record = dump != null)
            modelNanos += r.modelNanos
            video2.add(r.scores)
            last = r.scores
            r.expensive?.let { schedule.append(if (it) 'E' else 'C') }
            if (dump != null) {
                dump.addView(plan.clipOf(v), plan.cropOf(v), plan.indices(plan.clipOf(v)), r.input!!, r.output!!, r.scores, r.expensive)
            }
            onClip(v, plan.views(), r)
        }
        val scores = if (c.isFaster) last else video2.mean()
        if (dump != null) {
            dump.setVideo(scores)
            dump.put("source", video.label).put("num_frames", video.frameCount).put("fps", video.fps)
                .put("frame_width", video.codedWidth).put("frame_height", video.codedHeight).put("rotation", video.rotation)
                .put("decoder", "MediaCodec ${stats.codec} (${video.mime}), YUV -> RGB BT.601 (core Yuv420)")
                .put("runtime", "LiteRT Interpreter, XNNPACK").put("threads", c.threads)
                .put("device", "${Build.MANUFACTURER} ${Build.MODEL}, Android ${Build.VERSION.RELEASE} (API ${Build.VERSION.SDK_INT})")
                .put("frames_substituted", stats.substituted)
        }
        return VideoResult(scores, plan.views(), schedule.toString(), decodeNanos, preprocessNanos, modelNanos,
            System.nanoTime() - t0, stats)
    }
}
