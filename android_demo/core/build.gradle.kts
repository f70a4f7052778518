// Pure-Java core of the demo: everything that is not Android (sidecar, sampling, preprocessing,
// scores, FASTER bookkeeping). No android.* imports, so it builds and tests on any JVM; the
// project's pytest (tests/test_android_core.py) compiles and runs the same sources with javac.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    useJUnit()
    // Golden vectors written by `kvid export ... --android-assets app/src/main/assets`;
    // GoldenVectorsTest is skipped when they are not there.
    systemProperty("kvid.golden", rootProject.file("app/src/main/assets/golden").absolutePath)
}
