// Versions are declared here once; modules apply the plugins without versions.
plugins {
    // AGP 9.1 needs Gradle >= 9.3.1 (gradle/wrapper/gradle-wrapper.properties) and JDK 17+.
    // Kotlin is built into AGP 9, so no org.jetbrains.kotlin.android plugin is applied.
    id("com.android.application") version "9.1.1" apply false
}
