package org.kvid.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;
import java.util.Map;

import org.junit.Test;

public class JsonTest {

    @Test
    public void parsesNestedValues() {
        Map<String, Object> m = Json.asObject(Json.parse(
                " {\"a\": [1, -2.5e1, true, false, null], \"b\": {\"c\": \"x\\\"y\\\\z\\u00e9\\ud83d\\ude00\\n\"}, \"d\": 0.1} ", "t"), "t");
        List<Object> a = Json.asArray(m.get("a"), "a");
        assertEquals(1L, a.get(0));
        assertEquals(-25.0, (Double) a.get(1), 0.0);
        assertEquals(Boolean.TRUE, a.get(2));
        assertEquals(Boolean.FALSE, a.get(3));
        assertNull(a.get(4));
        assertEquals("x\"y\\z\u00e9\ud83d\ude00\n", Json.asObject(m.get("b"), "b").get("c"));
        assertEquals(0.1, Json.asDouble(m.get("d"), "d"), 0.0);
        assertEquals(8, Json.asInt(Json.parse("8.0", "t"), "t"));
    }

    private static void bad(String text, String expected) {
        try {
            Json.parse(text, "model.json");
            fail("accepted: " + text);
        } catch (KvidException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("model.json: invalid JSON"));
            assertTrue(e.getMessage(), e.getMessage().contains(expected));
        }
    }

    @Test
    public void rejectsMalformedJson() {
        bad("{\"a\": 1,}", "string key");
        bad("[1, 2", "expected ']'");
        bad("{\"a\": 1, \"a\": 2}", "duplicate key");
        bad("01", "after the JSON value");
        bad("\"abc", "unterminated");
        bad("{\"a\": tru}", "expected true");
        bad("", "end of input");
        bad("{}\n  x", "line 2, column 3");
    }

    @Test
    public void typeErrorsNameTheValue() {
        try {
            Json.asInt(Json.parse("\"8\"", "t"), "model.json: frames");
            fail();
        } catch (KvidException e) {
            assertEquals("model.json: frames: expected an integer, found the string \"8\"", e.getMessage());
        }
    }
}
