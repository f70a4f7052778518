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
        versionCode = 2
        versionName = "0.2.0"
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
    }

    compileOptions {
        // Kotlin's jvmTarget follows targetCompatibility under AGP 9's built-in Kotlin.
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    androidResources {
        // .tflite stored uncompressed so the app memory-maps the model instead of reading it
        // onto the heap (ModelSource.Bundled.map)
        noCompress += listOf("tflite")
        // aapt's default ignore list, plus golden/: the golden test vectors that
        // `kvid export --android-assets` writes beside the model are not for the app
        ignoreAssetsPatterns += listOf(
            "!.svn", "!.git", "!.ds_store", "!*.scc", ".*", "<dir>_*", "!CVS", "!thumbs.db",
            "!picasa.ini", "!*~", "<dir>golden",
        )
    }

    sourceSets {
        // ... but they are the instrumented test's input: the golden folder's files go to the
        // root of the test APK's assets (GoldenOnDeviceTest reads manifest.json there)
        getByName("androidTest") {
            assets.srcDir("src/main/assets/golden")
        }
    }
}

dependencies {
    implementation(project(":core"))

    // LiteRT (formerly TensorFlow Lite): org.tensorflow.lite.Interpreter, CPU with XNNPACK.
    // 2.1.5, not 2.1.6 or 2.2.0: those add the artifact litert-api, which declares the same
    // namespace (com.google.ai.edge.litert) as litert, and AGP 9 refuses duplicate namespaces
    // at manifest merge (LiteRT issue #8474; fixed upstream after 2.2.0). Excluding litert-api
    // is no way out: litert 2.1.6 needs it at run time.
    implementation("com.google.ai.edge.litert:litert:2.1.5")

    implementation("androidx.activity:activity-ktx:1.12.1")
    val camerax = "1.5.3"
    implementation("androidx.camera:camera-core:$camerax")
    implementation("androidx.camera:camera-camera2:$camerax")
    implementation("androidx.camera:camera-lifecycle:$camerax")
    implementation("androidx.camera:camera-view:$camerax")

    androidTestImplementation("androidx.test.ext:junit:1.3.0")
    androidTestImplementation("androidx.test:runner:1.7.0")
}
