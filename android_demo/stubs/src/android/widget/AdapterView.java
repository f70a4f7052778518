package android.widget;

import android.view.View;
import android.view.ViewGroup;
import androidx.annotation.Nullable;

public abstract class AdapterView<T extends Adapter> extends ViewGroup {
    public final void setOnItemSelectedListener(@Nullable OnItemSelectedListener listener) {
        throw new RuntimeException("Stub!");
    }

    @Nullable
    public final OnItemSelectedListener getOnItemSelectedListener() {
        throw new RuntimeException("Stub!");
    }

    public int getSelectedItemPosition() {
        throw new RuntimeException("Stub!");
    }

    public abstract T getAdapter();

    public abstract void setAdapter(T adapter);

    public abstract void setSelection(int position);

    public interface OnItemSelectedListener {
        void onItemSelected(AdapterView<?> parent, View view, int position, long id);

        void onNothingSelected(AdapterView<?> parent);
    }
}
