package android.view;

import androidx.annotation.Nullable;

public class View {
    public static final int VISIBLE = 0;
    public static final int GONE = 8;

    public void setVisibility(int visibility) {
        throw new RuntimeException("Stub!");
    }

    public int getVisibility() {
        throw new RuntimeException("Stub!");
    }

    public void setOnClickListener(@Nullable OnClickListener l) {
        throw new RuntimeException("Stub!");
    }

    public boolean isEnabled() {
        throw new RuntimeException("Stub!");
    }

    public void setEnabled(boolean enabled) {
        throw new RuntimeException("Stub!");
    }

    @Nullable
    public Display getDisplay() {
        throw new RuntimeException("Stub!");
    }

    public interface OnClickListener {
        void onClick(View v);
    }
}
