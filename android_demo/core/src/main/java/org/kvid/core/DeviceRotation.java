package org.kvid.core;

/**
 * The phone's physical orientation ({@code OrientationEventListener} degrees: 0 upright, 90 turned
 * clockwise onto its right side ...) as the display rotation a camera use case should produce
 * upright frames for ({@code Surface.ROTATION_0..270} = 0..3), snapped to the nearest quarter
 * turn - the mapping of CameraX's documentation: the device turned 90 degrees clockwise is
 * {@code ROTATION_270}.
 */
public final class DeviceRotation {
    /** {@code OrientationEventListener.ORIENTATION_UNKNOWN}. */
    public static final int UNKNOWN = -1;

    private DeviceRotation() {
    }

    /** 0..3 (Surface.ROTATION_*), or -1 for an unknown orientation (flat on a table). */
    public static int surfaceRotation(int degrees) {
        if (degrees == UNKNOWN) {
            return -1;
        }
        int d = ((degrees % 360) + 360) % 360;
        if (d >= 45 && d < 135) {
            return 3; // ROTATION_270
        }
        if (d >= 135 && d < 225) {
            return 2; // ROTATION_180
        }
        if (d >= 225 && d < 315) {
            return 1; // ROTATION_90
        }
        return 0;
    }
}
