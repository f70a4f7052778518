package androidx.camera.core;

import androidx.annotation.NonNull;

public final class CameraSelector {
    public static final int LENS_FACING_FRONT = 0;
    public static final int LENS_FACING_BACK = 1;
    @NonNull
    public static final CameraSelector DEFAULT_BACK_CAMERA = null;
    @NonNull
    public static final CameraSelector DEFAULT_FRONT_CAMERA = null;

    public static final class Builder {
        public Builder() {
            throw new RuntimeException("Stub!");
        }

        @NonNull
        public Builder requireLensFacing(int lensFacing) {
            throw new RuntimeException("Stub!");
        }

        @NonNull
        public CameraSelector build() {
            throw new RuntimeException("Stub!");
        }
    }
}
