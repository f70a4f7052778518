package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.Assume;
import org.junit.Test;

/**
 * Core against the golden vectors Python wrote ({@code export/android_assets.py}): for every
 * sample video, the same sampled frame indices, the same input tensor bytes for every view (clip
 * x crop, rotated upright first where the sample has rotation metadata), the same dequantised
 * scores, the same video average and top-5; for FASTER the whole bookkeeping of a real export
 * replayed clip by clip; and the YUV conversion against cv2.
 *
 * <p>The folder comes from the system property {@code kvid.golden} (tests/test_android_core.py
 * points it at freshly generated vectors; the Gradle build points it at
 * {@code app/src/main/assets/golden}). Without vectors the test is skipped, unless
 * {@code kvid.golden.required=true}, when it fails.
 */
public class GoldenVectorsTest {

    /** The golden folders: {@code kvid.golden}, several separated by the path separator. */
    private static List<File> goldenDirs() {
        String value = System.getProperty("kvid.golden", "");
        boolean required = Boolean.parseBoolean(System.getProperty("kvid.golden.required", "false"));
        List<File> dirs = new ArrayList<File>();
        for (String d : value.split(java.util.regex.Pattern.quote(File.pathSeparator))) {
            if (d.isEmpty()) {
                continue;
            }
            File f = new File(d);
            if (new File(f, "manifest.json").isFile()) {
                dirs.add(f);
            } else if (required) {
                fail("no golden vectors at " + d + " (manifest.json missing)");
            }
        }
        if (dirs.isEmpty() && required) {
            fail("kvid.golden.required=true but kvid.golden names no folder");
        }
        Assume.assumeTrue("no golden vectors (set -Dkvid.golden=DIR)", !dirs.isEmpty());
        return dirs;
    }

    private static byte[] read(File f) throws IOException {
        return ModelAssets.readAll(new FileInputStream(f));
    }

    private static List<Frame> readFrames(File f, int n, int h, int w) throws IOException {
        byte[] raw = read(f);
        assertEquals(f + ": size", (long) n * h * w * 4, raw.length);
        ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.BIG_ENDIAN);
        List<Frame> frames = new ArrayList<Frame>(n);
        for (int i = 0; i < n; i++) {
            int[] px = new int[h * w];
            buf.asIntBuffer().get(px);
            buf.position(buf.position() + h * w * 4);
            frames.add(new Frame(px, w, h));
        }
        return frames;
    }

    @Test
    public void coreRebuildsPythonsBytes() throws IOException {
        for (File dir : goldenDirs()) {
            check(dir);
        }
    }

    private static void check(File dir) throws IOException {
        File manifestFile = new File(dir, "manifest.json");
        Map<String, Object> manifest = Json.asObject(
                Json.parse(ModelAssets.readUtf8(new FileInputStream(manifestFile)), manifestFile.getPath()), "manifest");
        assertEquals("kvid-android-golden", manifest.get("format"));
        assertEquals(2L, Json.asLong(manifest.get("version"), "version"));
        Sidecar sc = Sidecar.fromJson(manifest.get("sidecar"), manifestFile.getPath() + ": sidecar");
        ClipInput clipInput = ClipInput.of(sc);
        ClipSpec spec = sc.videoSpec();

        List<Object> samples = Json.asArray(manifest.get("samples"), "samples");
        assertTrue("the manifest has samples", samples.size() > 0);
        int checkedViews = 0;
        int replayedClips = 0;
        for (Object so : samples) {
            Map<String, Object> s = Json.asObject(so, "sample");
            String name = Json.asString(s.get("name"), "name");
            int n = Json.asInt(s.get("num_frames"), "num_frames");
            int h = Json.asInt(s.get("height"), "height");
            int w = Json.asInt(s.get("width"), "width");
            int rotation = Json.asInt(s.get("rotation"), "rotation");
            List<Frame> coded = readFrames(new File(dir, Json.asString(s.get("frames"), "frames")), n, h, w);
            List<Pixels> frames = new ArrayList<Pixels>();
            for (Frame f : coded) {
                frames.add(Rotated.of(f, rotation));
            }
            String what = name + " (" + w + "x" + h + ", rotation " + rotation + ", " + n + " frames)";

            VideoPlan plan = new VideoPlan(spec, n);
            List<Object> clips = Json.asArray(s.get("clips"), "clips");
            assertEquals(what + ": clip count", spec.clips, clips.size());
            for (int k = 0; k < clips.size(); k++) {
                int[] expectedIdx = Json.asIntArray(Json.asObject(clips.get(k), "clip").get("indices"), "indices");
                assertArrayEquals(what + " clip " + k + ": sampled frame indices", expectedIdx, plan.indices(k));
            }
            // every needed frame decoded once and placed into all its views, as the app does
            byte[][] viewClips = plan.newViewClips(clipInput);
            for (int i : plan.frames()) {
                plan.place(i, frames.get(i), clipInput, viewClips);
            }

            List<Object> views = Json.asArray(s.get("views"), "views");
            assertEquals(what + ": view count (clips x crops)", plan.views(), views.size());
            VideoScores video = new VideoScores(sc.numClasses());
            float[] last = null;
            for (int v = 0; v < views.size(); v++) {
                Map<String, Object> vo = Json.asObject(views.get(v), "view");
                String where = what + " view " + v + " (clip " + plan.clipOf(v) + ", crop " + plan.cropOf(v) + ")";
                assertEquals(where + ": clip", plan.clipOf(v), Json.asInt(vo.get("clip"), "clip"));
                assertEquals(where + ": crop", plan.cropOf(v), Json.asInt(vo.get("crop"), "crop"));

                ByteBuffer tensor = ByteBuffer.allocate(sc.input.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
                clipInput.writeTensor(viewClips[v], tensor);
                byte[] expectedInput = read(new File(dir, Json.asString(vo.get("input"), "input")));
                assertEquals(where + ": input tensor size", expectedInput.length, tensor.capacity());
                int firstDiff = firstDifference(expectedInput, tensor.array());
                if (firstDiff >= 0) {
                    int px = firstDiff / 3;
                    int hw = sc.height * sc.width;
                    fail(where + ": input tensor differs first at byte " + firstDiff + " (frame " + (px / hw)
                            + ", y " + (px % hw / sc.width) + ", x " + (px % sc.width) + ", channel " + (firstDiff % 3)
                            + "): Python " + expectedInput[firstDiff] + ", Java " + tensor.array()[firstDiff]);
                }

                byte[] logits = read(new File(dir, Json.asString(vo.get("logits"), "logits")));
                float[] scores = Scores.read(ByteBuffer.wrap(logits).order(ByteOrder.LITTLE_ENDIAN), sc.output);
                checkScored(where, vo, scores, sc);
                video.add(scores);
                last = scores;
                checkedViews++;
            }
            float[] videoScores = sc.faster == null ? video.mean() : last;
            checkScored(what + ": video", Json.asObject(s.get("video"), "video"), videoScores, sc);
            if (s.get("sequence") != null) {
                replayedClips += replayFaster(dir, what, sc, Json.asObject(manifest.get("faster_models"), "faster_models"),
                        Json.asArray(s.get("sequence"), "sequence"), views);
            }
        }
        assertTrue(checkedViews > 0);
        if (sc.faster != null) {
            checkFaster(dir, sc, Json.asObject(manifest.get("faster"), "faster"));
        }
        int yuv = checkYuv(dir, Json.asArray(manifest.get("yuv"), "yuv"));
        System.out.println("golden vectors: " + samples.size() + " samples, " + checkedViews + " views match, "
                + replayedClips + " FASTER clips replayed, " + yuv + " YUV frames match (" + dir.getPath() + ")");
    }

    /** Dequantised scores bit for bit, softmax to 1e-12, top-5 and the top-1 label. */
    private static void checkScored(String where, Map<String, Object> expected, float[] scores, Sidecar sc) {
        List<Object> expScores = Json.asArray(expected.get("scores"), "scores");
        assertEquals(where + ": score count", expScores.size(), scores.length);
        for (int i = 0; i < scores.length; i++) {
            float e = (float) Json.asDouble(expScores.get(i), "score");
            assertEquals(where + ": score " + i + " (Python " + e + ", Java " + scores[i] + ")", Float.floatToIntBits(e),
                    Float.floatToIntBits(scores[i]));
        }
        double[] p = Scores.softmax(scores);
        List<Object> expP = Json.asArray(expected.get("probabilities"), "probabilities");
        for (int i = 0; i < p.length; i++) {
            assertEquals(where + ": probability " + i, Json.asDouble(expP.get(i), "p"), p[i], 1e-12);
        }
        int[] top5 = Json.asIntArray(expected.get("top5"), "top5");
        assertArrayEquals(where + ": top-5", top5, Scores.topK(scores, 5));
        assertEquals(where + ": top-1 label", sc.labels.get(top5[0]), Scores.top(scores, sc.labels, 5).get(0).label);
    }

    private static TensorSpec spec(Object o, String what) {
        return TensorSpec.fromJson(o, what);
    }

    /**
     * A real FASTER export, clip by clip, as Models.kt drives it: the clip model's feature bytes
     * (Python's) into the session, every step input byte-identical to kvid.runtime.faster's, the
     * raw step outputs back in, the carried state equal to the next clip's input.
     */
    private static int replayFaster(File dir, String what, Sidecar sc, Map<String, Object> models, List<Object> sequence,
                                    List<Object> views) throws IOException {
        Map<String, TensorSpec> ins = new LinkedHashMap<String, TensorSpec>();
        for (Map.Entry<String, Object> e : Json.asObject(models.get("step_inputs"), "step_inputs").entrySet()) {
            ins.put(e.getKey(), spec(e.getValue(), e.getKey()));
        }
        Map<String, TensorSpec> outs = new LinkedHashMap<String, TensorSpec>();
        for (Map.Entry<String, Object> e : Json.asObject(models.get("step_outputs"), "step_outputs").entrySet()) {
            outs.put(e.getKey(), spec(e.getValue(), e.getKey()));
        }
        FasterSession.StepIo io = FasterSession.StepIo.fromSignature(sc.faster.step, ins, outs, sc.faster.stateNames(),
                sc.numClasses());
        sc.checkOutput(sc.faster.step, io.logits);
        FasterSession session = new FasterSession(sc.faster, spec(models.get("expensive_output"), "expensive"),
                spec(models.get("cheap_output"), "cheap"), io);
        assertEquals(what + ": one FASTER clip per view", views.size(), sequence.size());
        for (int k = 0; k < sequence.size(); k++) {
            Map<String, Object> rec = Json.asObject(sequence.get(k), "clip");
            String where = what + " FASTER clip " + k;
            boolean e = Boolean.TRUE.equals(rec.get("expensive"));
            assertEquals(where + ": schedule", e, session.nextIsExpensive());
            byte[] feature = read(new File(dir, Json.asString(rec.get("feature"), "feature")));
            Map<String, byte[]> stepIn = session.stepInputs(feature, e);
            Map<String, Object> expIn = Json.asObject(rec.get("step_inputs"), "step_inputs");
            assertEquals(where + ": step inputs", expIn.keySet(), stepIn.keySet());
            for (Map.Entry<String, Object> x : expIn.entrySet()) {
                assertArrayEquals(where + ": step input " + x.getKey(), read(new File(dir, (String) x.getValue())),
                        stepIn.get(x.getKey()));
            }
            Map<String, Object> expOut = Json.asObject(rec.get("step_outputs"), "step_outputs");
            Map<String, byte[]> stateOut = new LinkedHashMap<String, byte[]>();
            for (String st : io.stateNames) {
                stateOut.put(st, read(new File(dir, (String) expOut.get(st))));
            }
            byte[] rawLogits = read(new File(dir, (String) expOut.get(FasterSession.LOGITS)));
            float[] logits = session.finishStep(stateOut,
                    Scores.read(ByteBuffer.wrap(rawLogits).order(ByteOrder.LITTLE_ENDIAN), io.logits));
            checkScored(where + ": logits", Json.asObject(views.get(k), "view"), logits, sc);
        }
        return sequence.size();
    }

    /** FASTER bookkeeping against kvid.runtime.faster: schedule, control inputs, zero states, requantisation. */
    private static void checkFaster(File dir, Sidecar sc, Map<String, Object> f) throws IOException {
        String schedule = Json.asString(f.get("schedule"), "schedule");
        assertEquals("FASTER schedule", schedule, sc.faster.scheduler().schedule(sc.faster.clips));

        Map<String, Object> control = Json.asObject(f.get("control"), "control");
        TensorSpec cspec = TensorSpec.fromJson(control.get("spec"), "control.spec");
        byte[] expected = read(new File(dir, Json.asString(control.get("bytes"), "control.bytes")));
        assertEquals(sc.faster.clips * 6, expected.length);
        for (int t = 0; t < sc.faster.clips; t++) {
            byte[] got = FasterSession.encode(FasterSession.controlVector(t, schedule.charAt(t) == 'E'), cspec);
            assertArrayEquals("control input of clip " + t, java.util.Arrays.copyOfRange(expected, t * 6, t * 6 + 6), got);
        }

        List<Object> zeros = Json.asArray(f.get("zero_states"), "zero_states");
        assertEquals(sc.faster.states.size(), zeros.size());
        for (Object zo : zeros) {
            Map<String, Object> z = Json.asObject(zo, "zero_state");
            TensorSpec st = TensorSpec.fromJson(z.get("state"), "zero_state.state");
            assertArrayEquals("zero state " + st.name, read(new File(dir, Json.asString(z.get("bytes"), "bytes"))),
                    FasterSession.encode(new float[st.elementCount()], st));
        }

        List<Object> pairs = Json.asArray(f.get("requantize"), "requantize");
        assertTrue(pairs.size() >= 2);
        for (Object po : pairs) {
            Map<String, Object> p = Json.asObject(po, "requantize");
            TensorSpec from = TensorSpec.fromJson(p.get("from"), "from");
            TensorSpec to = TensorSpec.fromJson(p.get("to"), "to");
            byte[] in = read(new File(dir, Json.asString(p.get("input"), "input")));
            byte[] out = read(new File(dir, Json.asString(p.get("output"), "output")));
            assertArrayEquals("requantize " + from + " -> " + to, out, FasterSession.requantize(in, from, to));
        }
    }

    /** Core's Yuv420 against cv2.cvtColor on decoder-style planes (strides, odd crop window). */
    private static int checkYuv(File dir, List<Object> frames) throws IOException {
        for (Object o : frames) {
            Map<String, Object> y = Json.asObject(o, "yuv");
            String layout = Json.asString(y.get("layout"), "layout");
            ByteBuffer planes = ByteBuffer.wrap(read(new File(dir, Json.asString(y.get("planes"), "planes"))));
            int[] yp = Json.asIntArray(y.get("y"), "y");
            int[] up = Json.asIntArray(y.get("u"), "u");
            int[] vp = Json.asIntArray(y.get("v"), "v");
            int[] crop = Json.asIntArray(y.get("crop"), "crop");
            Yuv420 img = new Yuv420(slice(planes, yp[0]), yp[1], yp[2], slice(planes, up[0]), up[1], up[2],
                    slice(planes, vp[0]), vp[1], vp[2], crop[0], crop[1], crop[2], crop[3],
                    Boolean.TRUE.equals(y.get("full_range")));
            byte[] rgb = read(new File(dir, Json.asString(y.get("rgb"), "rgb")));
            assertEquals(layout + ": rgb size", crop[2] * crop[3] * 3, rgb.length);
            for (int yy = 0; yy < crop[3]; yy++) {
                for (int x = 0; x < crop[2]; x++) {
                    int p = img.pixel(x, yy);
                    int o3 = (yy * crop[2] + x) * 3;
                    int[] got = {p >> 16 & 0xFF, p >> 8 & 0xFF, p & 0xFF};
                    for (int c = 0; c < 3; c++) {
                        if ((rgb[o3 + c] & 0xFF) != got[c]) {
                            fail(layout + " YUV -> RGB at (" + x + ", " + yy + ") channel " + c + ": cv2 "
                                    + (rgb[o3 + c] & 0xFF) + ", Java " + got[c]);
                        }
                    }
                }
            }
        }
        return frames.size();
    }

    private static ByteBuffer slice(ByteBuffer b, int offset) {
        ByteBuffer d = b.duplicate();
        d.position(offset);
        return d.slice();
    }

    private static int firstDifference(byte[] a, byte[] b) {
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            if (a[i] != b[i]) {
                return i;
            }
        }
        return a.length == b.length ? -1 : Math.min(a.length, b.length);
    }
}
