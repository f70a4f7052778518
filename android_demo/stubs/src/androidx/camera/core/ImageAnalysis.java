package androidx.camera.core;

import androidx.annotation.NonNull;
import androidx.camera.core.resolutionselector.ResolutionSelector;
import java.util.concurrent.Executor;

public final class ImageAnalysis extends UseCase {
    public static final int STRATEGY_KEEP_ONLY_LATEST = 0;
    public static final int STRATEGY_BLOCK_PRODUCER = 1;
    public static final int OUTPUT_IMAGE_FORMAT_YUV_420_888 = 1;
    public static final int OUTPUT_IMAGE_FORMAT_RGBA_8888 = 2;

    public void setAnalyzer(@NonNull Executor executor, @NonNull Analyzer analyzer) {
        throw new RuntimeException("Stub!");
    }

    public void clearAnalyzer() {
        throw new RuntimeException("Stub!");
    }

    public int getTargetRotation() {
        throw new RuntimeException("Stub!");
    }

    public void setTargetRotation(int rotation) {
        throw new RuntimeException("Stub!");
    }

    public interface Analyzer {
        void analyze(@NonNull ImageProxy image);
    }

    public static final class Builder {
        public Builder() {
            throw new RuntimeException("Stub!");
        }

        @NonNull
        public Builder setBackpressureStrategy(int strategy) {
            throw new RuntimeException("Stub!");
        }

        @NonNull
        public Builder setOutputImageFormat(int outputImageFormat) {
            throw new RuntimeException("Stub!");
        }

        @NonNull
        public Builder setTargetRotation(int rotation) {
            throw new RuntimeException("Stub!");
        }

        @NonNull
        public Builder setResolutionSelector(@NonNull ResolutionSelector resolutionSelector) {
            throw new RuntimeException("Stub!");
        }

        @NonNull
        public ImageAnalysis build() {
            throw new RuntimeException("Stub!");
        }
    }
}
