package android.net;

import androidx.annotation.Nullable;

public abstract class Uri implements android.os.Parcelable {
    @Nullable
    public abstract String getLastPathSegment();
}
