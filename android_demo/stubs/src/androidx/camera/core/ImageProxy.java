package androidx.camera.core;

import androidx.annotation.NonNull;
import java.nio.ByteBuffer;

public interface ImageProxy extends AutoCloseable {
    @Override
    void close();

    int getWidth();

    int getHeight();

    int getFormat();

    @NonNull
    PlaneProxy[] getPlanes();

    @NonNull
    ImageInfo getImageInfo();

    interface PlaneProxy {
        int getRowStride();

        int getPixelStride();

        @NonNull
        ByteBuffer getBuffer();
    }
}
