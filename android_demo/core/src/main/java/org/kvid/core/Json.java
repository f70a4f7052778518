package org.kvid.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small, strict JSON parser (RFC 8259) for the model sidecar and the golden-vector manifest.
 *
 * <p>Objects become {@code LinkedHashMap<String, Object>}, arrays {@code ArrayList<Object>},
 * numbers {@code Long} (no fraction or exponent, fits in a long) or {@code Double}, plus
 * {@code String}, {@code Boolean} and {@code null}. Core has no dependencies, so it carries its
 * own parser instead of org.json (which is an Android API and absent on a plain JVM).
 */
public final class Json {
    private final String text;
    private final String source;
    private int pos;

    private Json(String text, String source) {
        this.text = text;
        this.source = source;
    }

    /** Parses one JSON document; {@code source} names it in error messages. */
    public static Object parse(String text, String source) {
        Json p = new Json(text, source);
        p.skipSpace();
        Object value = p.value();
        p.skipSpace();
        if (p.pos != p.text.length()) {
            throw p.error("unexpected text after the JSON value");
        }
        return value;
    }

    private KvidException error(String problem) {
        int line = 1;
        int col = 1;
        for (int i = 0; i < pos && i < text.length(); i++) {
            if (text.charAt(i) == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return new KvidException(source + ": invalid JSON at line " + line + ", column " + col + ": " + problem);
    }

    private void skipSpace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                pos++;
            } else {
                break;
            }
        }
    }

    private Object value() {
        if (pos >= text.length()) {
            throw error("unexpected end of input");
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return string();
            case 't':
                literal("true");
                return Boolean.TRUE;
            case 'f':
                literal("false");
                return Boolean.FALSE;
            case 'n':
                literal("null");
                return null;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw error("unexpected character '" + c + "'");
        }
    }

    private void literal(String word) {
        if (!text.startsWith(word, pos)) {
            throw error("expected " + word);
        }
        pos += word.length();
    }

    private Map<String, Object> object() {
        Map<String, Object> map = new LinkedHashMap<String, Object>();
        pos++; // {
        skipSpace();
        if (pos < text.length() && text.charAt(pos) == '}') {
            pos++;
            return map;
        }
        while (true) {
            skipSpace();
            if (pos >= text.length() || text.charAt(pos) != '"') {
                throw error("expected a string key");
            }
            String key = string();
            skipSpace();
            expect(':');
            skipSpace();
            Object v = value();
            if (map.containsKey(key)) {
                throw error("duplicate key \"" + key + "\"");
            }
            map.put(key, v);
            skipSpace();
            if (pos < text.length() && text.charAt(pos) == ',') {
                pos++;
                continue;
            }
            expect('}');
            return map;
        }
    }

    private List<Object> array() {
        List<Object> list = new ArrayList<Object>();
        pos++; // [
        skipSpace();
        if (pos < text.length() && text.charAt(pos) == ']') {
            pos++;
            return list;
        }
        while (true) {
            skipSpace();
            list.add(value());
            skipSpace();
            if (pos < text.length() && text.charAt(pos) == ',') {
                pos++;
                continue;
            }
            expect(']');
            return list;
        }
    }

    private void expect(char c) {
        if (pos >= text.length() || text.charAt(pos) != c) {
            throw error("expected '" + c + "'");
        }
        pos++;
    }

    private String string() {
        pos++; // opening quote
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= text.length()) {
                throw error("unterminated string");
            }
            char c = text.charAt(pos++);
            if (c == '"') {
                return sb.toString();
            }
            if (c < 0x20) {
                throw error("control character in string");
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= text.length()) {
                throw error("unterminated escape");
            }
            char e = text.charAt(pos++);
            switch (e) {
                case '"':
                    sb.append('"');
                    break;
                case '\\':
                    sb.append('\\');
                    break;
                case '/':
                    sb.append('/');
                    break;
                case 'b':
                    sb.append('\b');
                    break;
                case 'f':
                    sb.append('\f');
                    break;
                case 'n':
                    sb.append('\n');
                    break;
                case 'r':
                    sb.append('\r');
                    break;
                case 't':
                    sb.append('\t');
                    break;
                case 'u':
                    if (pos + 4 > text.length()) {
                        throw error("short \\u escape");
                    }
                    int code = 0;
                    for (int i = 0; i < 4; i++) {
                        int d = Character.digit(text.charAt(pos + i), 16);
                        if (d < 0) {
                            throw error("bad \\u escape");
                        }
                        code = code * 16 + d;
                    }
                    pos += 4;
                    sb.append((char) code); // surrogate pairs arrive as two escapes, in order
                    break;
                default:
                    throw error("bad escape \\" + e);
            }
        }
    }

    private Object number() {
        int start = pos;
        if (text.charAt(pos) == '-') {
            pos++;
        }
        if (pos >= text.length()) {
            throw error("bad number");
        }
        if (text.charAt(pos) == '0') {
            pos++;
        } else if (text.charAt(pos) >= '1' && text.charAt(pos) <= '9') {
            while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
                pos++;
            }
        } else {
            throw error("bad number");
        }
        boolean integral = true;
        if (pos < text.length() && text.charAt(pos) == '.') {
            integral = false;
            pos++;
            int digits = pos;
            while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
                pos++;
            }
            if (pos == digits) {
                throw error("bad number: no digits after '.'");
            }
        }
        if (pos < text.length() && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
            integral = false;
            pos++;
            if (pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) {
                pos++;
            }
            int digits = pos;
            while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
                pos++;
            }
            if (pos == digits) {
                throw error("bad number: no exponent digits");
            }
        }
        String s = text.substring(start, pos);
        if (integral) {
            try {
                return Long.valueOf(Long.parseLong(s));
            } catch (NumberFormatException tooBig) {
                return Double.valueOf(Double.parseDouble(s));
            }
        }
        return Double.valueOf(Double.parseDouble(s));
    }

    // ---- typed access helpers (used by Sidecar and the golden-vector reader) ----

    /** {@code obj} as a JSON object, or a KvidException naming {@code what}. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> asObject(Object obj, String what) {
        if (!(obj instanceof Map)) {
            throw new KvidException(what + ": expected a JSON object, found " + describe(obj));
        }
        return (Map<String, Object>) obj;
    }

    @SuppressWarnings("unchecked")
    public static List<Object> asArray(Object obj, String what) {
        if (!(obj instanceof List)) {
            throw new KvidException(what + ": expected a JSON array, found " + describe(obj));
        }
        return (List<Object>) obj;
    }

    public static String asString(Object obj, String what) {
        if (!(obj instanceof String)) {
            throw new KvidException(what + ": expected a string, found " + describe(obj));
        }
        return (String) obj;
    }

    /** An integer value; a double is accepted only when it is integral (e.g. 8.0). */
    public static long asLong(Object obj, String what) {
        if (obj instanceof Long) {
            return ((Long) obj).longValue();
        }
        if (obj instanceof Double) {
            double d = ((Double) obj).doubleValue();
            if (d == Math.rint(d) && Math.abs(d) < 9.0e15) {
                return (long) d;
            }
        }
        throw new KvidException(what + ": expected an integer, found " + describe(obj));
    }

    public static int asInt(Object obj, String what) {
        long v = asLong(obj, what);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new KvidException(what + ": integer " + v + " out of range");
        }
        return (int) v;
    }

    public static double asDouble(Object obj, String what) {
        if (obj instanceof Long) {
            return ((Long) obj).doubleValue();
        }
        if (obj instanceof Double) {
            return ((Double) obj).doubleValue();
        }
        throw new KvidException(what + ": expected a number, found " + describe(obj));
    }

    public static int[] asIntArray(Object obj, String what) {
        List<Object> list = asArray(obj, what);
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = asInt(list.get(i), what + "[" + i + "]");
        }
        return out;
    }

    /** A required key of {@code obj}; {@code what} names the object in the error message. */
    public static Object require(Map<String, Object> obj, String key, String what) {
        if (!obj.containsKey(key)) {
            throw new KvidException(what + ": missing \"" + key + "\"");
        }
        return obj.get(key);
    }

    static String describe(Object obj) {
        if (obj == null) {
            return "null";
        }
        if (obj instanceof Map) {
            return "an object";
        }
        if (obj instanceof List) {
            return "an array";
        }
        if (obj instanceof String) {
            return "the string \"" + obj + "\"";
        }
        return String.valueOf(obj);
    }
}
