package org.kvid.core;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A parity dump made on the JVM the way the app makes one, for tests/test_parity.py:
 * {@code ParityDumpMain GOLDEN_DIR SAMPLE OUT.zip}. The frames of golden sample SAMPLE (kvid's
 * decode of a real video) go through core's pipeline - VideoPlan, ClipInput, rotation - to the
 * exact input tensors; the outputs are the real model's for those inputs (the golden logits,
 * which were computed from byte-identical inputs: this tool refuses to run otherwise); the
 * video score is core's VideoScores (or FASTER's last clip). Only the interpreter is not the
 * phone's.
 */
public final class ParityDumpMain {
    private ParityDumpMain() {
    }

    private static byte[] read(File f) throws IOException {
        return ModelAssets.readAll(new FileInputStream(f));
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            throw new KvidException("usage: ParityDumpMain GOLDEN_DIR SAMPLE OUT.zip");
        }
        File dir = new File(args[0]);
        File manifestFile = new File(dir, "manifest.json");
        Map<String, Object> manifest = Json.asObject(
                Json.parse(ModelAssets.readUtf8(new FileInputStream(manifestFile)), manifestFile.getPath()), "manifest");
        String sidecarText = JsonWriter.write(manifest.get("sidecar"));
        Sidecar sc = Sidecar.parse(sidecarText, "sidecar.json");
        ClipInput input = ClipInput.of(sc);
        Map<String, Object> s = Json.asObject(Json.asArray(manifest.get("samples"), "samples").get(Integer.parseInt(args[1])),
                "sample");
        int n = Json.asInt(s.get("num_frames"), "num_frames");
        int h = Json.asInt(s.get("height"), "height");
        int w = Json.asInt(s.get("width"), "width");
        int rotation = Json.asInt(s.get("rotation"), "rotation");
        ByteBuffer argb = ByteBuffer.wrap(read(new File(dir, Json.asString(s.get("frames"), "frames"))))
                .order(ByteOrder.BIG_ENDIAN);
        List<Pixels> frames = new ArrayList<Pixels>();
        for (int i = 0; i < n; i++) {
            int[] px = new int[w * h];
            argb.asIntBuffer().get(px);
            argb.position(argb.position() + w * h * 4);
            frames.add(Rotated.of(new Frame(px, w, h), rotation));
        }
        VideoPlan plan = new VideoPlan(sc.videoSpec(), n);
        byte[][] clips = plan.newViewClips(input);
        for (int i : plan.frames()) {
            plan.place(i, frames.get(i), input, clips);
        }
        List<Object> views = Json.asArray(s.get("views"), "views");
        ParityDump dump = new ParityDump(sidecarText);
        dump.put("source", "golden " + Json.asString(s.get("name"), "name")).put("num_frames", n)
                .put("frame_width", w).put("frame_height", h).put("rotation", rotation)
                .put("decoder", "kvid's decode (golden frames)").put("runtime", "golden logits (ai-edge-litert)")
                .put("threads", 1).put("device", "JVM " + System.getProperty("java.version"));
        VideoScores video = new VideoScores(sc.numClasses());
        float[] last = null;
        for (int v = 0; v < plan.views(); v++) {
            ByteBuffer tensor = ByteBuffer.allocate(sc.input.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
            input.writeTensor(clips[v], tensor);
            Map<String, Object> vo = Json.asObject(views.get(v), "view");
            if (!java.util.Arrays.equals(tensor.array(), read(new File(dir, Json.asString(vo.get("input"), "input"))))) {
                throw new KvidException("view " + v + ": core's input differs from the golden input; the golden logits "
                        + "would not be this input's");
            }
            byte[] out = read(new File(dir, Json.asString(vo.get("logits"), "logits")));
            float[] scores = Scores.read(ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN), sc.output);
            Boolean expensive = sc.faster == null ? null : Boolean.valueOf(sc.faster.scheduler().isExpensive(plan.clipOf(v)));
            dump.addView(plan.clipOf(v), plan.cropOf(v), plan.indices(plan.clipOf(v)), tensor.array(), out, scores, expensive);
            video.add(scores);
            last = scores;
        }
        dump.setVideo(sc.faster == null ? video.mean() : last);
        FileOutputStream fo = new FileOutputStream(args[2]);
        try {
            dump.write(fo);
        } finally {
            fo.close();
        }
        System.out.println("wrote " + args[2] + ": " + dump.views() + " views");
    }
}
