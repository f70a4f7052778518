package androidx.camera.core.resolutionselector;

import androidx.annotation.NonNull;

public final class ResolutionSelector {
    public static final class Builder {
        public Builder() {
            throw new RuntimeException("Stub!");
        }

        @NonNull
        public Builder setResolutionStrategy(@NonNull ResolutionStrategy resolutionStrategy) {
            throw new RuntimeException("Stub!");
        }

        @NonNull
        public ResolutionSelector build() {
            throw new RuntimeException("Stub!");
        }
    }
}
