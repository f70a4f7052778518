package org.kvid.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.Charset;
import java.util.Collections;
import java.util.List;

/**
 * The model assets the app ships: {@code model.json} (the sidecar) and the model(s) it names -
 * {@code model.tflite}, or for a FASTER export the expensive, cheap and step models. Loading
 * checks that every file is there and says what to do when one is not.
 */
public final class ModelAssets {
    public static final String SIDECAR = "model.json";
    public static final String MODEL = "model.tflite";
    /** An optional bundled sample video. */
    public static final String SAMPLE_VIDEO = "sample.mp4";

    static final String HOW_TO = "export a model with `kvid export RUN --to int8 --out F.tflite --android-assets "
            + "android_demo/app/src/main/assets` and rebuild the app";

    public final Sidecar sidecar;
    /** The model files, in the order {@link Sidecar#requiredModelFiles} gives them. */
    public final List<String> modelFiles;

    private ModelAssets(Sidecar sidecar, List<String> modelFiles) {
        this.sidecar = sidecar;
        this.modelFiles = Collections.unmodifiableList(modelFiles);
    }

    public boolean isFaster() {
        return sidecar.faster != null;
    }

    /** Reads and validates the sidecar and checks the model files it needs are present. */
    public static ModelAssets load(AssetSource assets) {
        if (!assets.exists(SIDECAR)) {
            throw new KvidException(assets.describe(SIDECAR) + ": missing asset (the model's sidecar); " + HOW_TO);
        }
        String text;
        try {
            text = readUtf8(assets.open(SIDECAR));
        } catch (IOException e) {
            throw new KvidException(assets.describe(SIDECAR) + ": cannot read: " + e.getMessage(), e);
        }
        Sidecar sidecar = Sidecar.parse(text, assets.describe(SIDECAR));
        List<String> files = sidecar.requiredModelFiles(MODEL);
        for (String f : files) {
            if (!assets.exists(f)) {
                throw new KvidException(assets.describe(f) + ": missing asset (named by " + assets.describe(SIDECAR)
                        + "); " + HOW_TO);
            }
        }
        return new ModelAssets(sidecar, files);
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
