package org.kvid.core;

/**
 * A problem with the user's input (an asset, a sidecar value, a model that does not fit its
 * sidecar), the Java twin of Python's {@code kvid.KvidError}.
 *
 * <p>The message is one line, {@code "<file or value>: <problem>"}, fit to show on screen.
 */
public class KvidException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public KvidException(String message) {
        super(message);
    }

    public KvidException(String message, Throwable cause) {
        super(message, cause);
    }
}
