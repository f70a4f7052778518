package org.kvid.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.Charset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A model the app can run: a sidecar and the model file(s) it names - {@code F.json} and
 * {@code F.tflite} for a plain export, or for a FASTER export the expensive, cheap and step
 * models its {@code faster} block names. The APK's assets hold {@code model.json} +
 * {@code model.tflite} ({@code kvid export --android-assets}); a model imported at run time is a
 * folder with the files under their exported names. Loading checks that every file is there
 * and says what to do when one is not.
 */
public final class ModelAssets {
    public static final String SIDECAR = "model.json";
    public static final String MODEL = "model.tflite";
    /** An optional bundled sample video. */
    public static final String SAMPLE_VIDEO = "sample.mp4";

    static final String HOW_TO = "export a model with `kvid export RUN --to int8 --out F.tflite --android-assets "
            + "android_demo/app/src/main/assets` and rebuild the app, or load F.json and F.tflite with \"Load model\"";

    /** The sidecar's file name in its source. */
    public final String sidecarName;
    /** The sidecar text as read (the parity dump carries it unchanged). */
    public final String sidecarText;
    public final Sidecar sidecar;
    /** The model files, in the order {@link Sidecar#requiredModelFiles} gives them. */
    public final List<String> modelFiles;

    private ModelAssets(String sidecarName, String sidecarText, Sidecar sidecar, List<String> modelFiles) {
        this.sidecarName = sidecarName;
        this.sidecarText = sidecarText;
        this.sidecar = sidecar;
        this.modelFiles = Collections.unmodifiableList(modelFiles);
    }

    public boolean isFaster() {
        return sidecar.faster != null;
    }

    /** The plain model file beside a sidecar: {@code F.json} -&gt; {@code F.tflite}. */
    public static String modelFileFor(String sidecarName) {
        if (!sidecarName.endsWith(".json")) {
            throw new KvidException(sidecarName + ": a sidecar's name ends in .json");
        }
        return sidecarName.substring(0, sidecarName.length() - ".json".length()) + ".tflite";
    }

    /** The APK's model: {@code model.json} and the model(s) it names. */
    public static ModelAssets load(AssetSource assets) {
        return load(assets, SIDECAR);
    }

    /** Reads and validates sidecar {@code sidecarName} and checks the model files it needs are present. */
    public static ModelAssets load(AssetSource assets, String sidecarName) {
        if (!assets.exists(sidecarName)) {
            throw new KvidException(assets.describe(sidecarName) + ": missing (the model's sidecar); " + HOW_TO);
        }
        String text;
        try {
            text = readUtf8(assets.open(sidecarName));
        } catch (IOException e) {
            throw new KvidException(assets.describe(sidecarName) + ": cannot read: " + e.getMessage(), e);
        }
        Sidecar sidecar = Sidecar.parse(text, assets.describe(sidecarName));
        List<String> files = sidecar.requiredModelFiles(modelFileFor(sidecarName));
        for (String f : files) {
            if (!assets.exists(f)) {
                throw new KvidException(assets.describe(f) + ": missing (named by " + assets.describe(sidecarName)
                        + "); " + HOW_TO);
            }
        }
        return new ModelAssets(sidecarName, text, sidecar, files);
    }

    /**
     * Which of the picked files ({@code names}) is the sidecar: the one {@code .json}, or among
     * several the one whose {@code .tflite} was picked too. Fails with a message naming what to
     * pick when that is not clear.
     */
    public static String chooseSidecar(List<String> names) {
        List<String> jsons = new ArrayList<String>();
        boolean anyTflite = false;
        for (String n : names) {
            if (n.endsWith(".json")) {
                jsons.add(n);
            }
            anyTflite |= n.endsWith(".tflite");
        }
        if (jsons.isEmpty()) {
            throw new KvidException(names + ": no sidecar (.json) among the files; pick F.json together with "
                    + (anyTflite ? "its .tflite file(s)" : "F.tflite"));
        }
        if (jsons.size() == 1) {
            return jsons.get(0);
        }
        List<String> matching = new ArrayList<String>();
        for (String j : jsons) {
            if (names.contains(modelFileFor(j))) {
                matching.add(j);
            }
        }
        if (matching.size() == 1) {
            return matching.get(0);
        }
        throw new KvidException(jsons + ": several sidecars; pick the files of one model");
    }

    /** All of a stream as bytes (closes it). */
    public static byte[] readAll(InputStream in) throws IOException {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
            }
            return out.toByteArray();
        } finally {
            in.close();
        }
    }

    public static String readUtf8(InputStream in) throws IOException {
        return new String(readAll(in), Charset.forName("UTF-8"));
    }
}
