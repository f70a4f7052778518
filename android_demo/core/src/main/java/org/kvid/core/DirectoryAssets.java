package org.kvid.core;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Assets in a folder (what {@code kvid export ... --android-assets DIR} writes). */
public final class DirectoryAssets implements AssetSource {
    private final File dir;

    public DirectoryAssets(File dir) {
        this.dir = dir;
    }

    @Override
    public boolean exists(String name) {
        return new File(dir, name).isFile();
    }

    @Override
    public InputStream open(String name) throws IOException {
        return new FileInputStream(new File(dir, name));
    }

    @Override
    public String describe(String name) {
        return new File(dir, name).getPath();
    }
}
