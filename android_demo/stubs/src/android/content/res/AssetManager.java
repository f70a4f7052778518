package android.content.res;

import androidx.annotation.NonNull;
import androidx.annotation.Nullable;
import java.io.IOException;
import java.io.InputStream;

public final class AssetManager {
    @Nullable
    public String[] list(@NonNull String path) throws IOException {
        throw new RuntimeException("Stub!");
    }

    @NonNull
    public InputStream open(@NonNull String fileName) throws IOException {
        throw new RuntimeException("Stub!");
    }

    @NonNull
    public AssetFileDescriptor openFd(@NonNull String fileName) throws IOException {
        throw new RuntimeException("Stub!");
    }
}
