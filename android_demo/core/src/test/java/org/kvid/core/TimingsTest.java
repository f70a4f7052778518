package org.kvid.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class TimingsTest {

    @Test
    public void percentilesAreNumpysLinearOnes() {
        // np.percentile([3, 1, 4, 1, 5], [50, 90]) == [3.0, 4.6]
        double[] v = {3, 1, 4, 1, 5};
        assertEquals(3.0, Timings.percentile(v, 50), 1e-12);
        assertEquals(4.6, Timings.percentile(v, 90), 1e-12);
        // np.percentile([10, 20], 90) == 19.0; one value is every percentile
        assertEquals(19.0, Timings.percentile(new double[] {20, 10}, 90), 1e-12);
        assertEquals(7.0, Timings.percentile(new double[] {7}, 90), 0.0);

        Timings t = new Timings();
        for (long ms : new long[] {12, 10, 11, 30, 10}) {
            t.add("model", ms * 1_000_000L);
        }
        t.add("decode", 5_000_000L);
        assertEquals(11.0, t.percentileMs("model", 50), 1e-9);
        assertEquals(22.8, t.percentileMs("model", 90), 1e-9); // 12 + 0.6 * (30 - 12)
        assertEquals("[model, decode]", t.stages().toString());
        assertTrue(t.table(), t.table().startsWith("model       median     11.0 ms  p90     22.8 ms  (n=5)"));
    }

    @Test
    public void captureAgeInWhicheverClockFits() {
        long s = 1_000_000_000L;
        // elapsedRealtime clock: 30 ms old; the monotonic clock is an hour behind (the phone slept)
        assertEquals(30_000_000L, CaptureClock.ageNanos(5000 * s, 5000 * s + 30_000_000L, 1400 * s));
        // monotonic clock
        assertEquals(45_000_000L, CaptureClock.ageNanos(1400 * s, 5000 * s, 1400 * s + 45_000_000L));
        // neither: unknown, not a wrong number
        assertEquals(-1L, CaptureClock.ageNanos(99 * s, 5000 * s, 1400 * s));
        assertEquals(-1L, CaptureClock.ageNanos(6000 * s, 5000 * s, 1400 * s));
    }

    @Test
    public void deviceOrientationSnapsToTheSurfaceRotation() {
        assertEquals(0, DeviceRotation.surfaceRotation(0));
        assertEquals(0, DeviceRotation.surfaceRotation(44));
        assertEquals(0, DeviceRotation.surfaceRotation(350));
        assertEquals("turned clockwise: ROTATION_270", 3, DeviceRotation.surfaceRotation(90));
        assertEquals(2, DeviceRotation.surfaceRotation(180));
        assertEquals(1, DeviceRotation.surfaceRotation(270));
        assertEquals(3, DeviceRotation.surfaceRotation(45));
        assertEquals(-1, DeviceRotation.surfaceRotation(DeviceRotation.UNKNOWN));
    }
}
