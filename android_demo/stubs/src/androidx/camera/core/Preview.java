package androidx.camera.core;

import androidx.annotation.NonNull;
import androidx.annotation.Nullable;

public final class Preview extends UseCase {
    public void setSurfaceProvider(@Nullable SurfaceProvider surfaceProvider) {
        throw new RuntimeException("Stub!");
    }

    public int getTargetRotation() {
        throw new RuntimeException("Stub!");
    }

    public void setTargetRotation(int rotation) {
        throw new RuntimeException("Stub!");
    }

    public interface SurfaceProvider {
    }

    public static final class Builder {
        public Builder() {
            throw new RuntimeException("Stub!");
        }

        @NonNull
        public Builder setTargetRotation(int rotation) {
            throw new RuntimeException("Stub!");
        }

        @NonNull
        public Preview build() {
            throw new RuntimeException("Stub!");
        }
    }
}
