// Plain JVM: the tile plan, padding, stitching, pixel packing and bicubic, with no Android
// dependency, so its unit tests run on any JDK (and in this repository's pytest suite).
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_11
    targetCompatibility = JavaVersion.VERSION_11
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    // The golden vectors shared with the Python tests (tests/golden_tiling.py).
    systemProperty("golden", rootDir.resolve("../tests/fixtures/tiling_golden.txt").path)
}
