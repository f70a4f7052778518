plugins {
    id("com.android.application")
}

android {
    namespace = "org.kvid.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "org.kvid.demo"
        minSdk = 24
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
    }

    compileOptions {
        // Kotlin's jvmTarget follows targetCompatibility under AGP 9's built-in Kotlin.
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    androidResources {
        // aapt's default ignore list, plus golden/: the golden test vectors that
        // `kvid export --android-assets` writes beside the model are for core's JVM tests only.
        ignoreAssetsPatterns += listOf(
            "!.svn", "!.git", "!.ds_store", "!*.scc", ".*", "<dir>_*", "!CVS", "!thumbs.db",
            "!picasa.ini", "!*~", "<dir>golden",
        )
    }
}

dependencies {
    implementation(project(":core"))

    // LiteRT (formerly TensorFlow Lite): org.tensorflow.lite.Interpreter, CPU with XNNPACK.
    implementation("com.google.ai.edge.litert:litert:2.1.6")

    implementation("androidx.activity:activity-ktx:1.12.1")
    val camerax = "1.5.2"
    implementation("androidx.camera:camera-core:$camerax")
    implementation("androidx.camera:camera-camera2:$camerax")
    implementation("androidx.camera:camera-lifecycle:$camerax")
    implementation("androidx.camera:camera-view:$camerax")
}
