package android.widget;

public class Spinner extends AbsSpinner {
}
