package android.media;

public final class MediaCodecInfo {
    public static final class CodecCapabilities {
        /** Deprecated in API 23 in favour of the flexible format; still what some codecs' raw buffers hold. */
        @Deprecated
        public static final int COLOR_FormatYUV420Planar = 19;
        @Deprecated
        public static final int COLOR_FormatYUV420SemiPlanar = 21;
        public static final int COLOR_FormatYUV420Flexible = 0x7F420888;
    }
}
