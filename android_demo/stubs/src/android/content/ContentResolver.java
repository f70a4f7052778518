package android.content;

import android.database.Cursor;
import android.net.Uri;
import androidx.annotation.NonNull;
import androidx.annotation.Nullable;
import java.io.FileNotFoundException;
import java.io.InputStream;
import java.io.OutputStream;

public abstract class ContentResolver {
    @Nullable
    public final InputStream openInputStream(@NonNull Uri uri) throws FileNotFoundException {
        throw new RuntimeException("Stub!");
    }

    @Nullable
    public final OutputStream openOutputStream(@NonNull Uri uri) throws FileNotFoundException {
        throw new RuntimeException("Stub!");
    }

    @Nullable
    public final Cursor query(@NonNull Uri uri, @Nullable String[] projection, @Nullable String selection,
                              @Nullable String[] selectionArgs, @Nullable String sortOrder) {
        throw new RuntimeException("Stub!");
    }
}
