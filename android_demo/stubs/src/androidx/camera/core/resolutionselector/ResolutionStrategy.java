package androidx.camera.core.resolutionselector;

import android.util.Size;
import androidx.annotation.NonNull;

public final class ResolutionStrategy {
    public static final int FALLBACK_RULE_NONE = 0;
    public static final int FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER = 1;

    public ResolutionStrategy(@NonNull Size boundSize, int fallbackRule) {
        throw new RuntimeException("Stub!");
    }
}
