package androidx.camera.view;

import android.widget.FrameLayout;
import androidx.annotation.NonNull;
import androidx.camera.core.Preview;

public final class PreviewView extends FrameLayout {
    @NonNull
    public Preview.SurfaceProvider getSurfaceProvider() {
        throw new RuntimeException("Stub!");
    }
}
