package android.media;

import androidx.annotation.NonNull;
import androidx.annotation.Nullable;

public final class MediaFormat {
    public static final String KEY_MIME = "mime";
    public static final String KEY_WIDTH = "width";
    public static final String KEY_HEIGHT = "height";
    public static final String KEY_FRAME_RATE = "frame-rate";
    public static final String KEY_COLOR_FORMAT = "color-format";
    /** API 23. */
    public static final String KEY_ROTATION = "rotation-degrees";
    /** API 23. */
    public static final String KEY_STRIDE = "stride";
    /** API 23. */
    public static final String KEY_SLICE_HEIGHT = "slice-height";
    /** API 24. */
    public static final String KEY_COLOR_RANGE = "color-range";
    /** API 24. */
    public static final int COLOR_RANGE_FULL = 1;

    public final boolean containsKey(@NonNull String name) {
        throw new RuntimeException("Stub!");
    }

    /** Throws NullPointerException for a missing key, ClassCastException for a value of another type. */
    public final int getInteger(@NonNull String name) {
        throw new RuntimeException("Stub!");
    }

    public final float getFloat(@NonNull String name) {
        throw new RuntimeException("Stub!");
    }

    @Nullable
    public final String getString(@NonNull String name) {
        throw new RuntimeException("Stub!");
    }

    public final void setInteger(@NonNull String name, int value) {
        throw new RuntimeException("Stub!");
    }
}
