package android.content;

import android.net.Uri;
import androidx.annotation.Nullable;

public class ClipData {
    public int getItemCount() {
        throw new RuntimeException("Stub!");
    }

    public Item getItemAt(int index) {
        throw new RuntimeException("Stub!");
    }

    public static class Item {
        @Nullable
        public Uri getUri() {
            throw new RuntimeException("Stub!");
        }
    }
}
