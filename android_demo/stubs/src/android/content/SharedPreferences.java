package android.content;

import androidx.annotation.Nullable;

public interface SharedPreferences {
    @Nullable
    String getString(String key, @Nullable String defValue);

    Editor edit();

    interface Editor {
        Editor putString(String key, @Nullable String value);

        Editor remove(String key);

        void apply();
    }
}
