package org.kvid.core;

/**
 * Latency from the moment the camera captured a frame. A camera frame's timestamp is the sensor
 * timestamp, in nanoseconds, in one of two clocks (Camera2 {@code SENSOR_INFO_TIMESTAMP_SOURCE}):
 * {@code REALTIME} - {@code SystemClock.elapsedRealtimeNanos()} - or {@code UNKNOWN}, in practice
 * the monotonic clock ({@code System.nanoTime()}, which stops in deep sleep). Which one a phone
 * uses is not known up front, so the frame's age is taken in whichever clock puts it in the
 * recent past; when neither does, the age is unknown (-1) and the app says so instead of
 * showing a wrong number.
 */
public final class CaptureClock {
    /** Ages above this are not believed (a frame does not wait 10 s in a live pipeline). */
    public static final long MAX_AGE_NANOS = 10_000_000_000L;

    private CaptureClock() {
    }

    /**
     * Nanoseconds from capture ({@code timestampNanos}) to now, given now in both candidate
     * clocks; -1 when the timestamp fits neither.
     */
    public static long ageNanos(long timestampNanos, long elapsedRealtimeNanos, long monotonicNanos) {
        long a = elapsedRealtimeNanos - timestampNanos;
        long b = monotonicNanos - timestampNanos;
        boolean okA = a >= 0 && a < MAX_AGE_NANOS;
        boolean okB = b >= 0 && b < MAX_AGE_NANOS;
        if (okA && okB) {
            return Math.min(a, b); // the clocks agree to within the age: take the tighter one
        }
        if (okA) {
            return a;
        }
        if (okB) {
            return b;
        }
        return -1;
    }
}
