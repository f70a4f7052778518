package androidx.test.platform.app;

import android.app.Instrumentation;
import androidx.annotation.NonNull;

public final class InstrumentationRegistry {
    @NonNull
    public static Instrumentation getInstrumentation() {
        throw new RuntimeException("Stub!");
    }
}
