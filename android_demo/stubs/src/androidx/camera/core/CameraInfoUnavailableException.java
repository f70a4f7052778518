package androidx.camera.core;

public final class CameraInfoUnavailableException extends Exception {
    private static final long serialVersionUID = 1L;
}
