package android.media;

import android.content.Context;
import android.net.Uri;
import androidx.annotation.NonNull;
import androidx.annotation.Nullable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;

public final class MediaExtractor {
    public static final int SEEK_TO_PREVIOUS_SYNC = 0;
    public static final int SAMPLE_FLAG_SYNC = 1;

    public MediaExtractor() {
        throw new RuntimeException("Stub!");
    }

    public final void setDataSource(@NonNull Context context, @NonNull Uri uri, @Nullable Map<String, String> headers)
            throws IOException {
        throw new RuntimeException("Stub!");
    }

    public final void setDataSource(@NonNull FileDescriptor fd, long offset, long length) throws IOException {
        throw new RuntimeException("Stub!");
    }

    public final int getTrackCount() {
        throw new RuntimeException("Stub!");
    }

    @NonNull
    public MediaFormat getTrackFormat(int index) {
        throw new RuntimeException("Stub!");
    }

    public void selectTrack(int index) {
        throw new RuntimeException("Stub!");
    }

    public void seekTo(long timeUs, int mode) {
        throw new RuntimeException("Stub!");
    }

    public boolean advance() {
        throw new RuntimeException("Stub!");
    }

    public int readSampleData(@NonNull ByteBuffer byteBuf, int offset) {
        throw new RuntimeException("Stub!");
    }

    public long getSampleTime() {
        throw new RuntimeException("Stub!");
    }

    public int getSampleFlags() {
        throw new RuntimeException("Stub!");
    }

    public final void release() {
        throw new RuntimeException("Stub!");
    }
}
