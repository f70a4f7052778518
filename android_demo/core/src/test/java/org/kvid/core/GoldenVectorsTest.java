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
import java.util.List;
import java.util.Map;

import org.junit.Assume;
import org.junit.Test;

/**
 * Core against the golden vectors Python wrote ({@code export/android_assets.py}): for every
 * sample video, the same sampled frame indices, the same input tensor bytes, the same
 * dequantised scores and top-5 from the same logits.
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
        assertEquals(1L, Json.asLong(manifest.get("version"), "version"));
        Sidecar sc = Sidecar.fromJson(manifest.get("sidecar"), manifestFile.getPath() + ": sidecar");
        ClipInput clipInput = ClipInput.of(sc);
        Sampling sampling = sc.faster == null ? sc.sampling : sc.sampling.with(sc.faster.clipFrames, sc.faster.clips);

        List<Object> samples = Json.asArray(manifest.get("samples"), "samples");
        assertTrue("the manifest has samples", samples.size() > 0);
        int checkedClips = 0;
        for (Object so : samples) {
            Map<String, Object> s = Json.asObject(so, "sample");
            String name = Json.asString(s.get("name"), "name");
            int n = Json.asInt(s.get("num_frames"), "num_frames");
            int h = Json.asInt(s.get("height"), "height");
            int w = Json.asInt(s.get("width"), "width");
            List<Frame> frames = readFrames(new File(dir, Json.asString(s.get("frames"), "frames")), n, h, w);
            List<Object> clips = Json.asArray(s.get("clips"), "clips");
            assertEquals(name + ": clip count", sampling.clips, clips.size());
            for (int k = 0; k < clips.size(); k++) {
                String where = name + " clip " + k + " (" + w + "x" + h + ", " + n + " frames)";
                Map<String, Object> c = Json.asObject(clips.get(k), "clip");

                int[] expectedIdx = Json.asIntArray(c.get("indices"), "indices");
                int[] idx = sampling.indices(n, k);
                assertArrayEquals(where + ": sampled frame indices", expectedIdx, idx);

                List<Frame> clipFrames = new ArrayList<Frame>();
                for (int i : idx) {
                    clipFrames.add(frames.get(i));
                }
                byte[] rgb = clipInput.rgbClip(clipFrames);
                ByteBuffer tensor = ByteBuffer.allocate(sc.input.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
                clipInput.writeTensor(rgb, tensor);
                byte[] expectedInput = read(new File(dir, Json.asString(c.get("input"), "input")));
                assertEquals(where + ": input tensor size", expectedInput.length, tensor.capacity());
                int firstDiff = firstDifference(expectedInput, tensor.array());
                if (firstDiff >= 0) {
                    int px = firstDiff / 3;
                    int hw = sc.height * sc.width;
                    fail(where + ": input tensor differs first at byte " + firstDiff + " (frame " + (px / hw)
                            + ", y " + (px % hw / sc.width) + ", x " + (px % sc.width) + ", channel " + (firstDiff % 3)
                            + "): Python " + expectedInput[firstDiff] + ", Java " + tensor.array()[firstDiff]);
                }

                byte[] logits = read(new File(dir, Json.asString(c.get("logits"), "logits")));
                float[] scores = Scores.read(ByteBuffer.wrap(logits).order(ByteOrder.LITTLE_ENDIAN), sc.output);
                List<Object> expScores = Json.asArray(c.get("scores"), "scores");
                assertEquals(where + ": score count", expScores.size(), scores.length);
                for (int i = 0; i < scores.length; i++) {
                    float expected = (float) Json.asDouble(expScores.get(i), "score");
                    assertEquals(where + ": dequantised score " + i, Float.floatToIntBits(expected),
                            Float.floatToIntBits(scores[i]));
                }
                double[] p = Scores.softmax(scores);
                List<Object> expP = Json.asArray(c.get("probabilities"), "probabilities");
                for (int i = 0; i < p.length; i++) {
                    assertEquals(where + ": probability " + i, Json.asDouble(expP.get(i), "p"), p[i], 1e-12);
                }
                assertArrayEquals(where + ": top-5", Json.asIntArray(c.get("top5"), "top5"), Scores.topK(scores, 5));
                List<Scores.Prediction> top = Scores.top(scores, sc.labels, 5);
                assertEquals(where + ": top-1 label", sc.labels.get(Json.asIntArray(c.get("top5"), "top5")[0]),
                        top.get(0).label);
                checkedClips++;
            }
        }
        assertTrue(checkedClips > 0);
        if (sc.faster != null) {
            checkFaster(dir, sc, Json.asObject(manifest.get("faster"), "faster"));
        }
        System.out.println("golden vectors: " + samples.size() + " samples, " + checkedClips + " clips match ("
                + dir.getPath() + ")");
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

    private static int firstDifference(byte[] a, byte[] b) {
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            if (a[i] != b[i]) {
                return i;
            }
        }
        return a.length == b.length ? -1 : Math.min(a.length, b.length);
    }
}
