package org.kvid.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Benchmark bookkeeping: per stage (e.g. "decode", "preprocess", "model"), one duration per
 * timed run, summarised as median and 90th percentile - numpy's default ("linear")
 * interpolation, {@code np.percentile(x, q)}, so a desktop run and the phone's screen use the
 * same definition. Warm-up runs are simply not recorded.
 */
public final class Timings {
    private final Map<String, List<Long>> stages = new LinkedHashMap<String, List<Long>>();

    /** Records one run's duration of {@code stage}, in nanoseconds. */
    public void add(String stage, long nanos) {
        if (nanos < 0) {
            throw new KvidException(stage + ": negative duration " + nanos + " ns");
        }
        List<Long> l = stages.get(stage);
        if (l == null) {
            l = new ArrayList<Long>();
            stages.put(stage, l);
        }
        l.add(nanos);
    }

    public List<String> stages() {
        return new ArrayList<String>(stages.keySet());
    }

    public int count(String stage) {
        List<Long> l = stages.get(stage);
        return l == null ? 0 : l.size();
    }

    /** Percentile {@code q} (0..100) of a stage, in milliseconds. */
    public double percentileMs(String stage, double q) {
        List<Long> l = stages.get(stage);
        if (l == null || l.isEmpty()) {
            throw new KvidException(stage + ": no timed runs");
        }
        double[] ms = new double[l.size()];
        for (int i = 0; i < ms.length; i++) {
            ms[i] = l.get(i) / 1e6;
        }
        return percentile(ms, q);
    }

    /**
     * numpy's {@code percentile(values, q)} with the default linear method: sort, position
     * {@code (n - 1) q / 100}, interpolate between its neighbours.
     */
    public static double percentile(double[] values, double q) {
        if (values.length == 0) {
            throw new KvidException("percentile of no values");
        }
        if (!(q >= 0 && q <= 100)) {
            throw new KvidException("percentile " + q + ": must be in [0, 100]");
        }
        double[] v = values.clone();
        Arrays.sort(v);
        double pos = (v.length - 1) * (q / 100.0);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, v.length - 1);
        double frac = pos - lo;
        return v[lo] + (v[hi] - v[lo]) * frac;
    }

    /** One line per stage: "decode      median 12.3 ms  p90 14.0 ms  (n=10)". */
    public String table() {
        StringBuilder sb = new StringBuilder();
        for (String s : stages.keySet()) {
            sb.append(String.format(Locale.ROOT, "%-11s median %8.1f ms  p90 %8.1f ms  (n=%d)%n", s,
                    percentileMs(s, 50), percentileMs(s, 90), count(s)));
        }
        return sb.toString();
    }
}
