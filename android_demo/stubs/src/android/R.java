package android;

/** The framework resources the app names from code (framework-res; aapt links the XML against the real ones). */
public final class R {
    public static final class layout {
        public static final int simple_spinner_dropdown_item = 0x01090009;
    }
}
