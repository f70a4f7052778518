package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

import org.junit.Test;

public class ParityDumpTest {

    @Test
    public void theZipHoldsTheManifestTheSidecarAndEveryTensor() throws IOException {
        ParityDump d = new ParityDump(SidecarTest.EXAMPLE);
        d.put("source", "a \"quoted\" name.mp4").put("num_frames", 120).put("fps", 29.97);
        float[] s0 = {0.1f, -3.25f, 1e-7f, 2f, 5f};
        d.addView(0, 0, new int[] {1, 2, 3}, new byte[] {-128, 0, 127}, new byte[] {1, 2, 3, 4, 5}, s0, null);
        d.addView(1, 0, new int[] {4, 5, 6}, new byte[] {9, 9, 9}, new byte[] {5, 4, 3, 2, 1}, s0, Boolean.TRUE);
        d.setVideo(s0);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        d.write(out);

        Map<String, byte[]> entries = new HashMap<String, byte[]>();
        ZipInputStream zin = new ZipInputStream(new ByteArrayInputStream(out.toByteArray()));
        for (ZipEntry e = zin.getNextEntry(); e != null; e = zin.getNextEntry()) {
            entries.put(e.getName(), ModelAssets.readAll(new NonClosing(zin)));
        }
        assertEquals(6, entries.size());
        assertEquals(SidecarTest.EXAMPLE, new String(entries.get("sidecar.json"), "UTF-8"));
        assertArrayEquals(new byte[] {9, 9, 9}, entries.get("view1.input"));
        assertArrayEquals(new byte[] {5, 4, 3, 2, 1}, entries.get("view1.output"));

        Map<String, Object> m = Json.asObject(Json.parse(new String(entries.get("parity.json"), "UTF-8"), "parity.json"), "m");
        assertEquals(ParityDump.FORMAT, m.get("format"));
        assertEquals("a \"quoted\" name.mp4", m.get("source"));
        assertEquals(29.97, Json.asDouble(m.get("fps"), "fps"), 0.0);
        List<Object> views = Json.asArray(m.get("views"), "views");
        Map<String, Object> v1 = Json.asObject(views.get(1), "v1");
        assertEquals(Boolean.TRUE, v1.get("expensive"));
        assertArrayEquals(new int[] {4, 5, 6}, Json.asIntArray(v1.get("indices"), "indices"));
        List<Object> scores = Json.asArray(v1.get("scores"), "scores");
        for (int i = 0; i < s0.length; i++) {
            assertEquals("float32 scores survive the text", Float.floatToIntBits(s0[i]),
                    Float.floatToIntBits((float) Json.asDouble(scores.get(i), "s")));
        }
        Map<String, Object> video = Json.asObject(m.get("video"), "video");
        assertArrayEquals(new int[] {4, 3, 0, 2, 1}, Json.asIntArray(video.get("top5"), "top5"));
        try {
            d.put("views", 1);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage().contains("views"));
        }
    }

    /** ZipInputStream's entry without closing the zip (readAll closes its stream). */
    private static final class NonClosing extends java.io.FilterInputStream {
        NonClosing(java.io.InputStream in) {
            super(in);
        }

        @Override
        public void close() {
        }
    }
}
