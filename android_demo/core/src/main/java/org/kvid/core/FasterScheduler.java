package org.kvid.core;

/**
 * FASTER's input pattern #E:#C (FASTER paper, Table 4), as kvid.runtime.faster.schedule: clips
 * go in periods of E + C, the first E of every period through the expensive model, the other C
 * through the cheap one. So with E &gt;= 1 clip 0 is expensive; 1:3 gives E C C C E C C C ...;
 * 1:0 is all expensive and 0:1 all cheap (the baselines of FASTER Table 5).
 */
public final class FasterScheduler {
    public final int expensive;
    public final int cheap;

    public FasterScheduler(int expensive, int cheap) {
        if (expensive < 0 || cheap < 0 || expensive + cheap == 0) {
            throw new KvidException("pattern " + expensive + ":" + cheap + ": expected #E:#C such as 1:3");
        }
        this.expensive = expensive;
        this.cheap = cheap;
    }

    /** Whether clip {@code clipIndex} (0-based) runs through the expensive model. */
    public boolean isExpensive(int clipIndex) {
        if (clipIndex < 0) {
            throw new KvidException("clip index " + clipIndex + ": must be >= 0");
        }
        return clipIndex % (expensive + cheap) < expensive;
    }

    /** The schedule of {@code clips} clips as a string of 'E' and 'C'. */
    public String schedule(int clips) {
        StringBuilder sb = new StringBuilder(clips);
        for (int k = 0; k < clips; k++) {
            sb.append(isExpensive(k) ? 'E' : 'C');
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return expensive + ":" + cheap;
    }
}
