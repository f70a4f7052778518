package android.media;

import android.view.Surface;
import androidx.annotation.NonNull;
import androidx.annotation.Nullable;
import java.io.IOException;
import java.nio.ByteBuffer;

public final class MediaCodec {
    public static final int BUFFER_FLAG_END_OF_STREAM = 4;
    public static final int INFO_TRY_AGAIN_LATER = -1;
    public static final int INFO_OUTPUT_FORMAT_CHANGED = -2;

    @NonNull
    public static MediaCodec createDecoderByType(@NonNull String type) throws IOException {
        throw new RuntimeException("Stub!");
    }

    @NonNull
    public String getName() {
        throw new RuntimeException("Stub!");
    }

    public void configure(@Nullable MediaFormat format, @Nullable Surface surface, @Nullable MediaCrypto crypto, int flags) {
        throw new RuntimeException("Stub!");
    }

    public void start() {
        throw new RuntimeException("Stub!");
    }

    public void stop() {
        throw new RuntimeException("Stub!");
    }

    public void flush() {
        throw new RuntimeException("Stub!");
    }

    public void release() {
        throw new RuntimeException("Stub!");
    }

    public int dequeueInputBuffer(long timeoutUs) {
        throw new RuntimeException("Stub!");
    }

    @Nullable
    public ByteBuffer getInputBuffer(int index) {
        throw new RuntimeException("Stub!");
    }

    public void queueInputBuffer(int index, int offset, int size, long presentationTimeUs, int flags) {
        throw new RuntimeException("Stub!");
    }

    public int dequeueOutputBuffer(@NonNull BufferInfo info, long timeoutUs) {
        throw new RuntimeException("Stub!");
    }

    @NonNull
    public MediaFormat getOutputFormat() {
        throw new RuntimeException("Stub!");
    }

    @Nullable
    public ByteBuffer getOutputBuffer(int index) {
        throw new RuntimeException("Stub!");
    }

    @Nullable
    public Image getOutputImage(int index) {
        throw new RuntimeException("Stub!");
    }

    public void releaseOutputBuffer(int index, boolean render) {
        throw new RuntimeException("Stub!");
    }

    public static final class BufferInfo {
        public int flags;
        public int offset;
        public long presentationTimeUs;
        public int size;
    }

    public static final class CodecException extends IllegalStateException {
        private static final long serialVersionUID = 1L;
    }
}
