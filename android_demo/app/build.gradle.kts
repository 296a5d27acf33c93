plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.lcemodels.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.lcemodels.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1"
        // LCE's optimized binary kernels are for ARM; x86_64 runs its portable ones (emulator).
        ndk { abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64") }
    }

    // Models are memory-mapped straight from the APK, which needs them stored uncompressed.
    androidResources { noCompress += "tflite" }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_11
        targetCompatibility = JavaVersion.VERSION_11
    }
    kotlinOptions { jvmTarget = "11" }
}

dependencies {
    implementation(project(":tilecore"))
    // LCE's Android library: TFLite's Java Interpreter with LCE's ops registered natively.
    // Not on Maven: build it as android_demo/README.md says and put it here.
    implementation(files("libs/tensorflow-lite-lce.aar"))
    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.activity:activity-ktx:1.9.3")
    implementation("androidx.core:core-ktx:1.13.1")
    implementation("androidx.exifinterface:exifinterface:1.3.7")
}
