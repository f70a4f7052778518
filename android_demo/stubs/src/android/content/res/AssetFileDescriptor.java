package android.content.res;

import java.io.Closeable;
import java.io.FileDescriptor;

public class AssetFileDescriptor implements Closeable {
    public FileDescriptor getFileDescriptor() {
        throw new RuntimeException("Stub!");
    }

    public long getStartOffset() {
        throw new RuntimeException("Stub!");
    }

    public long getLength() {
        throw new RuntimeException("Stub!");
    }

    public long getDeclaredLength() {
        throw new RuntimeException("Stub!");
    }

    @Override
    public void close() {
        throw new RuntimeException("Stub!");
    }
}
