package org.kvid.core;

import java.util.Arrays;
import java.util.Map;

/**
 * What one model tensor looks like: name, shape, dtype and (for integer tensors) the affine
 * quantisation {@code real = (q - zeroPoint) * scale}.
 *
 * <p>Built from the sidecar's {@code "input"} / {@code "output"} objects, or by the app from the
 * interpreter's own tensors, so the two can be compared ({@link Sidecar#checkModel}).
 */
public final class TensorSpec {
    public final String name;
    public final int[] shape;
    /** "int8", "uint8", "int16", "int32" or "float32". */
    public final String dtype;
    public final double scale;
    public final int zeroPoint;

    public TensorSpec(String name, int[] shape, String dtype, double scale, int zeroPoint) {
        this.name = name == null ? "" : name;
        this.shape = shape.clone();
        this.dtype = dtype;
        this.scale = scale;
        this.zeroPoint = zeroPoint;
        bytesPerElement(); // validates dtype
    }

    static TensorSpec fromJson(Object obj, String what) {
        Map<String, Object> m = Json.asObject(obj, what);
        String name = m.containsKey("name") && m.get("name") != null
                ? Json.asString(m.get("name"), what + ".name") : "";
        int[] shape = Json.asIntArray(Json.require(m, "shape", what), what + ".shape");
        String dtype = Json.asString(Json.require(m, "dtype", what), what + ".dtype");
        double scale = 0.0;
        int zp = 0;
        if (!"float32".equals(dtype)) {
            scale = Json.asDouble(Json.require(m, "scale", what), what + ".scale");
            zp = Json.asInt(Json.require(m, "zero_point", what), what + ".zero_point");
            if (!(scale > 0.0)) {
                throw new KvidException(what + ".scale: must be positive, found " + scale);
            }
        }
        try {
            return new TensorSpec(name, shape, dtype, scale, zp);
        } catch (KvidException e) {
            throw new KvidException(what + ".dtype: " + e.getMessage());
        }
    }

    public boolean isFloat() {
        return "float32".equals(dtype);
    }

    public int bytesPerElement() {
        if ("int8".equals(dtype) || "uint8".equals(dtype)) {
            return 1;
        }
        if ("int16".equals(dtype)) {
            return 2;
        }
        if ("int32".equals(dtype) || "float32".equals(dtype)) {
            return 4;
        }
        throw new KvidException("unsupported tensor dtype \"" + dtype + "\"");
    }

    public int elementCount() {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (n > Integer.MAX_VALUE) {
            throw new KvidException(name + ": tensor too large");
        }
        return (int) n;
    }

    public int byteSize() {
        return elementCount() * bytesPerElement();
    }

    /** Smallest and largest stored integer value of this dtype. */
    public int qmin() {
        if ("int8".equals(dtype)) {
            return -128;
        }
        if ("uint8".equals(dtype)) {
            return 0;
        }
        if ("int16".equals(dtype)) {
            return -32768;
        }
        return Integer.MIN_VALUE;
    }

    public int qmax() {
        if ("int8".equals(dtype)) {
            return 127;
        }
        if ("uint8".equals(dtype)) {
            return 255;
        }
        if ("int16".equals(dtype)) {
            return 32767;
        }
        return Integer.MAX_VALUE;
    }

    /** True when both tensors store values the same way (dtype, scale and zero point). */
    public boolean sameQuantization(TensorSpec other) {
        return dtype.equals(other.dtype) && zeroPoint == other.zeroPoint
                && (isFloat() || (float) scale == (float) other.scale);
    }

    public static String shapeString(int[] shape) {
        return Arrays.toString(shape).replace(" ", "");
    }

    @Override
    public String toString() {
        String q = isFloat() ? "" : " scale=" + scale + " zero_point=" + zeroPoint;
        return (name.isEmpty() ? "tensor" : name) + " " + shapeString(shape) + " " + dtype + q;
    }
}
