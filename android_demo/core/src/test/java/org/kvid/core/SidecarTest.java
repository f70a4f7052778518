package org.kvid.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import org.junit.Test;

public class SidecarTest {

    /** The example of docs/INTERFACES.md, "Model file sidecar". */
    static final String EXAMPLE = "{\n"
            + "  \"format\": \"kvid-tflite-sidecar\", \"version\": 1,\n"
            + "  \"kvid_version\": \"0.1.0\", \"model\": \"sevnet_g8\",\n"
            + "  \"labels\": [\"class0\", \"class1\", \"class2\", \"class3\", \"class4\"],\n"
            + "  \"frames\": 8, \"height\": 64, \"width\": 64,\n"
            + "  \"sampling\": {\"scheme\": \"dense\", \"stride\": 2, \"clips\": 1},\n"
            + "  \"crop\": {\"mode\": \"center\", \"resize\": 73, \"crop\": 64},\n"
            + "  \"input\":  {\"name\": \"clip\", \"shape\": [8, 64, 64, 3], \"dtype\": \"int8\", \"scale\": 1.0, \"zero_point\": -128},\n"
            + "  \"output\": {\"name\": \"logits\", \"shape\": [1, 5], \"dtype\": \"int8\", \"scale\": 0.1, \"zero_point\": 3},\n"
            + "  \"faster\": null\n"
            + "}\n";

    /** {@code json} must be refused with a message starting "model.json: " and naming every fragment. */
    static void expectError(String json, String... fragments) {
        try {
            Sidecar.parse(json, "model.json");
            fail("accepted a bad sidecar");
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("model.json: "));
            for (String f : fragments) {
                assertTrue("'" + f + "' not in: " + e.getMessage(), e.getMessage().contains(f));
            }
        }
    }

    @Test
    public void readsTheDocumentedExample() {
        Sidecar s = Sidecar.parse(EXAMPLE, "model.json");
        assertEquals("sevnet_g8", s.model);
        assertEquals(5, s.numClasses());
        assertEquals("class3", s.labels.get(3));
        assertEquals(8, s.frames);
        assertEquals(1, s.version);
        assertEquals("dense", s.clip.scheme);
        assertEquals(2, s.clip.stride);
        assertEquals(1, s.clip.clips);
        assertEquals(1, s.clip.crops);
        assertEquals(73, s.clip.resize);
        assertEquals(64, s.clip.crop);
        assertEquals(-128, s.input.zeroPoint);
        assertEquals(0.1, s.output.scale, 0.0);
        assertEquals(3, s.output.zeroPoint);
        assertNull(s.faster);
        assertEquals(8 * 64 * 64 * 3, s.input.byteSize());
    }

    @Test
    public void labelCountMustMatchTheOutput() {
        expectError(EXAMPLE.replace("\"class4\"", "\"class4\", \"class5\""), "6 labels", "5 classes");
    }

    @Test
    public void inputShapeMustMatchTheClip() {
        expectError(EXAMPLE.replace("[8, 64, 64, 3]", "[1, 8, 64, 64, 3]"), "input.shape [1,8,64,64,3]", "[8,64,64,3]");
        expectError(EXAMPLE.replace("\"frames\": 8", "\"frames\": 16"), "input.shape");
    }

    @Test
    public void otherProblemsAreNamed() {
        expectError(EXAMPLE.replace("kvid-tflite-sidecar", "something"), "not a kvid sidecar");
        expectError(EXAMPLE.replace("\"version\": 1", "\"version\": 3"), "version 3", "versions 1 to 2");
        expectError(EXAMPLE.replace("\"scheme\": \"dense\"", "\"scheme\": \"random\""), "sampling", "random");
        expectError(EXAMPLE.replace("\"mode\": \"center\"", "\"mode\": \"three\""), "crop.mode");
        expectError(EXAMPLE.replace("\"crop\": 64", "\"crop\": 56"), "crop.crop 56");
        expectError(EXAMPLE.replace("\"height\": 64,", ""), "missing \"height\"");
        expectError(EXAMPLE.replace("\"scale\": 0.1", "\"scale\": 0"), "output.scale");
    }

    @Test
    public void resizeDefaultsToEightSevenths() {
        Sidecar s = Sidecar.parse(EXAMPLE.replace("\"resize\": 73, ", ""), "model.json");
        assertEquals(73, s.clip.resize);
    }

    @Test
    public void modelsThatDoNotFitTheirSidecarAreRefused() {
        Sidecar s = Sidecar.parse(EXAMPLE, "model.json");
        TensorSpec goodIn = new TensorSpec("clip", new int[] {8, 64, 64, 3}, "int8", 1.0, -128);
        TensorSpec goodOut = new TensorSpec("logits", new int[] {1, 5}, "int8", 0.1f, 3);
        s.checkModel("model.tflite", goodIn, goodOut); // float32-rounded scale is the same scale
        try {
            s.checkModel("model.tflite", new TensorSpec("clip", new int[] {16, 64, 64, 3}, "int8", 1.0, -128), goodOut);
            fail();
        } catch (KvidException e) {
            assertEquals("model.tflite: input shape [16,64,64,3] does not match its sidecar model.json [8,64,64,3]", e.getMessage());
        }
        try {
            s.checkModel("model.tflite", goodIn, new TensorSpec("logits", new int[] {1, 7}, "int8", 0.1, 3));
            fail();
        } catch (KvidException e) {
            assertEquals("model.tflite: the model outputs 7 classes but model.json lists 5 labels", e.getMessage());
        }
        try {
            s.checkModel("model.tflite", new TensorSpec("clip", new int[] {8, 64, 64, 3}, "float32", 0, 0), goodOut);
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("input dtype float32"));
        }
        try {
            s.checkModel("model.tflite", goodIn, new TensorSpec("logits", new int[] {1, 5}, "int8", 0.2, 3));
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("output quantisation"));
        }
    }

    @Test
    public void fasterBlock() {
        String json = EXAMPLE.replace("\"faster\": null", "\"faster\": {\"clip_frames\": 8, \"clips\": 16, \"pattern\": [1, 7], "
                + "\"expensive\": \"m_expensive.tflite\", \"cheap\": \"m_cheap.tflite\", \"step\": \"m.tflite\", "
                + "\"aggregator\": \"fastgru\", \"state_shape\": [1, 1, 49, 64], "
                + "\"states\": [{\"name\": \"state\", \"shape\": [1, 1, 49, 64], \"dtype\": \"int8\", \"scale\": 0.02, \"zero_point\": 0}], "
                + "\"feature\": {\"name\": \"feature\", \"shape\": [1, 1, 49, 64], \"dtype\": \"int8\", \"scale\": 0.05, \"zero_point\": -3}, "
                + "\"control\": [\"first\", \"keep\", \"expensive\", \"cheap\", \"weight\", \"decay\"]}");
        Sidecar s = Sidecar.parse(json, "model.json");
        assertEquals(16, s.faster.clips);
        assertEquals("ECCCCCCCE", s.faster.scheduler().schedule(9));
        assertArrayEquals(new int[] {1, 1, 49, 64}, s.faster.stateShape);
        assertEquals("[state]", s.faster.stateNames().toString());
        assertEquals(-3, s.faster.feature.zeroPoint);
        assertEquals("fastgru", s.faster.aggregator);
        assertEquals(3, s.requiredModelFiles("model.tflite").size());
        expectError(json.replace("\"clip_frames\": 8", "\"clip_frames\": 4"), "clip_frames 4");
        expectError(json.replace("[1, 7],", "[0, 0],"), "pattern");
        expectError(json.replace("\"name\": \"state\", ", ""), "states[0]");
    }

    private static void write(File f, String text) throws IOException {
        FileOutputStream out = new FileOutputStream(f);
        try {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        } finally {
            out.close();
        }
    }

    @Test
    public void missingAssetsSayWhatToDo() throws IOException {
        File dir = Files.createTempDirectory("kvid-assets").toFile();
        try {
            DirectoryAssets assets = new DirectoryAssets(dir);
            try {
                ModelAssets.load(assets);
                fail();
            } catch (KvidException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith(new File(dir, "model.json").getPath() + ": missing (the model's sidecar)"));
                assertTrue(e.getMessage(), e.getMessage().contains("--android-assets"));
            }
            write(new File(dir, "model.json"), EXAMPLE);
            try {
                ModelAssets.load(assets);
                fail();
            } catch (KvidException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith(new File(dir, "model.tflite").getPath() + ": missing (named by"));
            }
            write(new File(dir, "model.tflite"), "not really a model");
            ModelAssets m = ModelAssets.load(assets);
            assertEquals(5, m.sidecar.numClasses());
            assertEquals("model.tflite", m.modelFiles.get(0));
        } finally {
            for (File f : dir.listFiles()) {
                f.delete();
            }
            dir.delete();
        }
    }

    @Test
    public void importedModelsPairTheSidecarWithItsModel() {
        assertEquals("sevnet.tflite", ModelAssets.modelFileFor("sevnet.json"));
        java.util.List<String> picked = java.util.Arrays.asList("sevnet.tflite", "sevnet.json");
        assertEquals("sevnet.json", ModelAssets.chooseSidecar(picked));
        assertEquals("f.json", ModelAssets.chooseSidecar(java.util.Arrays.asList(
                "f_expensive.tflite", "f_cheap.tflite", "f.tflite", "f.json", "labels.json")));
        try {
            ModelAssets.chooseSidecar(java.util.Arrays.asList("sevnet.tflite"));
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no sidecar"));
        }
        try {
            ModelAssets.chooseSidecar(java.util.Arrays.asList("a.json", "b.json"));
            fail();
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("several sidecars"));
        }
    }

    @Test
    public void aSidecarNamesItsOwnModelFile() throws IOException {
        File dir = Files.createTempDirectory("kvid-import").toFile();
        try {
            write(new File(dir, "sevnet.json"), EXAMPLE);
            DirectoryAssets assets = new DirectoryAssets(dir);
            try {
                ModelAssets.load(assets, "sevnet.json");
                fail();
            } catch (KvidException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith(new File(dir, "sevnet.tflite").getPath() + ": missing"));
            }
            write(new File(dir, "sevnet.tflite"), "x");
            ModelAssets m = ModelAssets.load(assets, "sevnet.json");
            assertEquals("[sevnet.tflite]", m.modelFiles.toString());
            assertEquals(EXAMPLE, m.sidecarText);
        } finally {
            for (File f : dir.listFiles()) {
                f.delete();
            }
            dir.delete();
        }
    }
}
