package org.kvid.core;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.Charset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * What the phone fed its model and what came out, for one video, as a zip that
 * {@code kvid predict MODEL [VIDEO] --compare DUMP} reads on the desktop (kvid.runtime.parity):
 *
 * <pre>
 *   parity.json     {"format": "kvid-android-parity", "version": 1, "sidecar": "sidecar.json",
 *                    "source", "num_frames", "frame_width", "frame_height", "rotation", "fps",
 *                    "decoder", "runtime", "threads", "device",
 *                    "views": [{"view", "clip", "crop", "indices", "input", "output", "scores",
 *                               "expensive"}],
 *                    "video": {"scores", "top5"}}
 *   sidecar.json    the sidecar the app ran with, byte for byte
 *   view&lt;v&gt;.input  the exact input tensor of view v (int8/uint8 bytes; float32 little-endian)
 *   view&lt;v&gt;.output the raw output tensor for it (a plain model's logits; FASTER: the step's logits)
 * </pre>
 *
 * The desktop side recomputes every view from the phone's own input bytes (an interpreter
 * check, no video needed) and, given the video, from its own decoding (the whole pipeline).
 */
public final class ParityDump {
    public static final String FORMAT = "kvid-android-parity";
    public static final int VERSION = 1;
    public static final String MANIFEST = "parity.json";
    public static final String SIDECAR = "sidecar.json";

    private final String sidecarText;
    private final Map<String, Object> info = new LinkedHashMap<String, Object>();
    private final List<Object> views = new ArrayList<Object>();
    private final List<byte[][]> tensors = new ArrayList<byte[][]>();
    private Map<String, Object> video;

    /** {@code sidecarText}: the sidecar JSON as the app read it (written unchanged). */
    public ParityDump(String sidecarText) {
        this.sidecarText = sidecarText;
    }

    /** A descriptive field of parity.json (source, num_frames, decoder, runtime, device ...). */
    public ParityDump put(String key, Object value) {
        if ("format".equals(key) || "version".equals(key) || "views".equals(key) || "video".equals(key)
                || "sidecar".equals(key)) {
            throw new KvidException("parity dump: \"" + key + "\" is written by the dump itself");
        }
        info.put(key, value);
        return this;
    }

    /**
     * One view: its clip and crop, the frame indices it was built from, the exact input tensor
     * bytes, the raw output tensor bytes, the dequantised scores; {@code expensive} for FASTER
     * clips (which model ran), else null.
     */
    public void addView(int clip, int crop, int[] indices, byte[] input, byte[] output, float[] scores, Boolean expensive) {
        int v = views.size();
        Map<String, Object> m = new LinkedHashMap<String, Object>();
        m.put("view", v);
        m.put("clip", clip);
        m.put("crop", crop);
        m.put("indices", indices.clone());
        m.put("input", "view" + v + ".input");
        m.put("output", "view" + v + ".output");
        m.put("scores", scores.clone());
        m.put("expensive", expensive);
        views.add(m);
        tensors.add(new byte[][] {input.clone(), output.clone()});
    }

    public int views() {
        return views.size();
    }

    /** The video's final scores (plain: the views' mean; FASTER: after the last clip). */
    public void setVideo(float[] scores) {
        video = new LinkedHashMap<String, Object>();
        video.put("scores", scores.clone());
        video.put("top5", Scores.topK(scores, 5));
    }

    /** The manifest text (parity.json). */
    public String manifest() {
        if (views.isEmpty()) {
            throw new KvidException("parity dump: no views recorded");
        }
        if (video == null) {
            throw new KvidException("parity dump: the video's scores are not set");
        }
        Map<String, Object> m = new LinkedHashMap<String, Object>();
        m.put("format", FORMAT);
        m.put("version", VERSION);
        m.put("sidecar", SIDECAR);
        m.putAll(info);
        m.put("views", views);
        m.put("video", video);
        return JsonWriter.write(m);
    }

    /** Writes the zip to {@code out} (and finishes it; the caller closes {@code out}). */
    public void write(OutputStream out) throws IOException {
        String manifest = manifest();
        Charset utf8 = Charset.forName("UTF-8");
        ZipOutputStream zip = new ZipOutputStream(out);
        entry(zip, MANIFEST, manifest.getBytes(utf8));
        entry(zip, SIDECAR, sidecarText.getBytes(utf8));
        for (int v = 0; v < tensors.size(); v++) {
            entry(zip, "view" + v + ".input", tensors.get(v)[0]);
            entry(zip, "view" + v + ".output", tensors.get(v)[1]);
        }
        zip.finish();
    }

    private static void entry(ZipOutputStream zip, String name, byte[] data) throws IOException {
        zip.putNextEntry(new ZipEntry(name));
        zip.write(data);
        zip.closeEntry();
    }
}
