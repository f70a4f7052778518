package android.content;

import android.os.Parcelable;
import androidx.annotation.Nullable;
import java.util.ArrayList;

public class Intent {
    public static final String ACTION_SEND = "android.intent.action.SEND";
    public static final String ACTION_SEND_MULTIPLE = "android.intent.action.SEND_MULTIPLE";
    public static final String EXTRA_STREAM = "android.intent.extra.STREAM";

    public Intent(Context packageContext, Class<?> cls) {
        throw new RuntimeException("Stub!");
    }

    @Nullable
    public String getAction() {
        throw new RuntimeException("Stub!");
    }

    @Nullable
    public ClipData getClipData() {
        throw new RuntimeException("Stub!");
    }

    /** Deprecated in API 33 (the typed overload is API 33+). */
    @Deprecated
    @Nullable
    public <T extends Parcelable> T getParcelableExtra(String name) {
        throw new RuntimeException("Stub!");
    }

    @Deprecated
    @Nullable
    public <T extends Parcelable> ArrayList<T> getParcelableArrayListExtra(String name) {
        throw new RuntimeException("Stub!");
    }
}
