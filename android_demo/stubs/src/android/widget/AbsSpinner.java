package android.widget;

public abstract class AbsSpinner extends AdapterView<SpinnerAdapter> {
    @Override
    public SpinnerAdapter getAdapter() {
        throw new RuntimeException("Stub!");
    }

    @Override
    public void setAdapter(SpinnerAdapter adapter) {
        throw new RuntimeException("Stub!");
    }

    @Override
    public void setSelection(int position) {
        throw new RuntimeException("Stub!");
    }
}
