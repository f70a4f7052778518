package org.kvid.demo

import android.content.res.AssetManager
import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.kvid.core.ClipInput
import org.kvid.core.Frame
import org.kvid.core.Json
import org.kvid.core.ModelAssets
import org.kvid.core.Pixels
import org.kvid.core.Rotated
import org.kvid.core.Scores
import org.kvid.core.Sidecar
import org.kvid.core.VideoPlan

/**
 * The golden vectors of the bundled model (`kvid export ... --android-assets
 * app/src/main/assets` writes them to `assets/golden/`; app/build.gradle.kts packs that folder
 * into this test APK only) through the real thing on a phone or emulator:
 *
 * 1. core on ART rebuilds every view's input tensor from the golden frames, byte for byte;
 * 2. LiteRT on the device runs those exact bytes: every view's top-1 equals kvid's and each
 *    output is within one quantisation step of it (XNNPACK's int8 kernels on ARM may round
 *    differently from x86 in the last bit; how many outputs are byte-identical is printed);
 * 3. FASTER: the clip models' feature bytes and the step's logits, clip after clip with the
 *    state carried, against kvid.runtime.faster's.
 *
 * Run with `./gradlew :app:connectedAndroidTest`. Skipped when the app has no golden vectors.
 */
@RunWith(AndroidJUnit4::class)
class GoldenOnDeviceTest {
    private val golden: AssetManager = InstrumentationRegistry.getInstrumentation().context.assets

    private fun read(name: String): ByteArray = golden.open(name).use { it.readBytes() }

    private fun frames(s: Map<String, Any?>): List<Pixels> {
        val n = Json.asInt(s["num_frames"], "num_frames")
        val h = Json.asInt(s["height"], "height")
        val w = Json.asInt(s["width"], "width")
        val rotation = Json.asInt(s["rotation"], "rotation")
        val buf = ByteBuffer.wrap(read(Json.asString(s["frames"], "frames"))).order(ByteOrder.BIG_ENDIAN)
        return (0 until n).map { i ->
            val px = IntArray(w * h)
            buf.position(i * w * h * 4)
            buf.asIntBuffer().get(px)
            Rotated.of(Frame(px, w, h), rotation)
        }
    }

    @Test
    fun theBundledModelReproducesKvidsOutputs() {
        assumeTrue("no golden vectors in the test APK (export with --android-assets)",
            (golden.list("") ?: emptyArray()).contains("manifest.json"))
        val manifest = Json.asObject(Json.parse(String(read("manifest.json"), Charsets.UTF_8), "manifest.json"), "manifest")
        assertEquals(2L, Json.asLong(manifest["version"], "version"))
        assertTrue("golden vectors with the model's own logits", manifest["model_logits"] == true)
        val sc = Sidecar.fromJson(manifest["sidecar"], "golden sidecar")
        val target = InstrumentationRegistry.getInstrumentation().targetContext
        VideoClassifier(ModelSource.Bundled(target.assets), 1).use { c ->
            val bundled = c.sidecar
            assertEquals("the bundled model is the golden vectors' model", sc.labels, bundled.labels)
            assertArrayEquals(sc.input.shape, bundled.input.shape)
            val input = ClipInput.of(bundled)
            val step = if (sc.output.isFloat) 0.0 else sc.output.scale
            var views = 0
            var identical = 0
            for (so in Json.asArray(manifest["samples"], "samples")) {
                val s = Json.asObject(so, "sample")
                val name = Json.asString(s["name"], "name")
                val plan = VideoPlan(bundled.videoSpec(), Json.asInt(s["num_frames"], "num_frames"))
                val clips = plan.newViewClips(input)
                val px = frames(s)
                for (i in plan.frames()) plan.place(i, px[i], input, clips)
                c.reset()
                val sequence = s["sequence"]?.let { Json.asArray(it, "sequence") }
                for ((v, vo) in Json.asArray(s["views"], "views").withIndex()) {
                    val view = Json.asObject(vo, "view")
                    val where = "$name view $v"
                    val expectedInput = read(Json.asString(view["input"], "input"))
                    val tensor = ByteBuffer.allocate(bundled.input.byteSize()).order(ByteOrder.LITTLE_ENDIAN)
                    input.writeTensor(clips[v], tensor)
                    assertArrayEquals("$where: core on ART rebuilds the input tensor", expectedInput, tensor.array())
                    if (sequence != null) {
                        val rec = Json.asObject(sequence[v], "clip")
                        val e = rec["expensive"] == true
                        assertEquals("$where: schedule", e, c.faster!!.nextIsExpensive())
                        val feature = c.fasterFeatures(expectedInput, e)
                        assertFeatureClose("$where: ${if (e) "expensive" else "cheap"} feature map",
                            read(Json.asString(rec["feature"], "feature")), feature)
                    }
                    val r = c.runTensor(expectedInput)
                    val kvid = Scores.read(ByteBuffer.wrap(read(Json.asString(view["logits"], "logits")))
                        .order(ByteOrder.LITTLE_ENDIAN), sc.output)
                    assertEquals("$where: top-1", Scores.topK(kvid, 1)[0], Scores.topK(r.scores, 1)[0])
                    for (k in kvid.indices) {
                        assertTrue("$where: score $k: kvid ${kvid[k]}, LiteRT ${r.scores[k]}",
                            Math.abs(kvid[k] - r.scores[k]) <= step * 1.0001 + 1e-6)
                    }
                    if (kvid.contentEquals(r.scores)) identical++
                    views++
                }
            }
            println("golden on device: $views views, $identical with byte-identical outputs, the rest within one step")
            assertTrue(views > 0)
        }
    }

    /** Feature maps: the same bytes, or at most one quantisation level apart (ARM vs x86 rounding). */
    private fun assertFeatureClose(what: String, expected: ByteArray, got: ByteArray) {
        assertEquals("$what: size", expected.size, got.size)
        var worst = 0
        for (i in expected.indices) worst = maxOf(worst, Math.abs(expected[i] - got[i]))
        assertTrue("$what differs by $worst levels", worst <= 1)
    }

    @Test
    fun assetsNameTheirModel() {
        val target = InstrumentationRegistry.getInstrumentation().targetContext
        val names = (target.assets.list("") ?: emptyArray()).toSet()
        assumeTrue("no bundled model", ModelAssets.SIDECAR in names)
        val m = ModelSource.Bundled(target.assets).load()
        for (f in m.modelFiles) assertTrue("$f is bundled", f in names)
    }
}
