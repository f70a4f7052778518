package android.content;

import android.content.res.AssetManager;
import java.io.File;

public abstract class Context {
    public static final int MODE_PRIVATE = 0;

    public abstract AssetManager getAssets();

    public abstract ContentResolver getContentResolver();

    public abstract File getFilesDir();

    public abstract SharedPreferences getSharedPreferences(String name, int mode);

    public final String getString(int resId) {
        throw new RuntimeException("Stub!");
    }
}
