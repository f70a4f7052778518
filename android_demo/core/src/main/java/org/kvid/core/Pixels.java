package org.kvid.core;

/**
 * An upright image the preprocessor reads pixel by pixel: a decoded frame ({@link Frame}), a
 * camera buffer ({@link RgbaPixels}), a decoder's YUV planes ({@link Yuv420}), or any of them
 * turned upright ({@link Rotated}). The preprocessor reads only the pixels its view needs (about
 * (crop + 1)^2 of them, times the box prefilter's f x f), so a frame never has to be converted
 * or copied as a whole.
 */
public interface Pixels {
    int width();

    int height();

    /** The pixel at column {@code x}, row {@code y} as {@code 0xAARRGGBB} (alpha is ignored). */
    int pixel(int x, int y);
}
