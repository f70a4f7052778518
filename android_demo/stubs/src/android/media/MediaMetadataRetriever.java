package android.media;

import android.content.Context;
import android.net.Uri;
import androidx.annotation.Nullable;
import java.io.FileDescriptor;

public class MediaMetadataRetriever implements AutoCloseable {
    public static final int METADATA_KEY_VIDEO_ROTATION = 24;

    public MediaMetadataRetriever() {
        throw new RuntimeException("Stub!");
    }

    public void setDataSource(Context context, Uri uri) {
        throw new RuntimeException("Stub!");
    }

    public void setDataSource(FileDescriptor fd, long offset, long length) {
        throw new RuntimeException("Stub!");
    }

    @Nullable
    public String extractMetadata(int keyCode) {
        throw new RuntimeException("Stub!");
    }

    /** Declares IOException from API 29 (when it became AutoCloseable). */
    public void release() throws java.io.IOException {
        throw new RuntimeException("Stub!");
    }

    @Override
    public void close() throws java.io.IOException {
        throw new RuntimeException("Stub!");
    }
}
