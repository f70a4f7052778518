pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()       // AGP, AndroidX, CameraX, LiteRT (com.google.ai.edge.litert)
        mavenCentral()
    }
}

rootProject.name = "kvid-demo"
include(":app", ":core")
