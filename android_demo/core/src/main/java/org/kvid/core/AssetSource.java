package org.kvid.core;

import java.io.IOException;
import java.io.InputStream;

/**
 * Where the model assets live: the APK's assets on a phone (the app wraps AssetManager), a
 * folder on the JVM ({@link DirectoryAssets}).
 */
public interface AssetSource {
    /** Whether the named asset exists. */
    boolean exists(String name);

    /** Opens the named asset; the caller closes the stream. */
    InputStream open(String name) throws IOException;

    /** How to name the asset to a user, e.g. "assets/model.json". */
    String describe(String name);
}
