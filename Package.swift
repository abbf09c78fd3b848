// swift-tools-version:6.0
import PackageDescription

/// C code that does the heavy arithmetic is compiled with full optimisation even in debug builds,
/// so that the test suite runs real-sized networks in reasonable time.
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter"])]
let shimFlags: [CSetting] = [.unsafeFlags(["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"])]

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")

let package = Package(
    name: "DogDoor",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dogdoord", targets: ["dogdoord"]),
        .executable(name: "dogdoor", targets: ["dogdoor"]),
        .executable(name: "dogdoor-train", targets: ["dogdoor-train"]),
        .executable(name: "dogdoor-latch", targets: ["dogdoor-latch"]),
        // The fuzzing entry points, for the libFuzzer executables of Fuzz/ (a package of their own: they are
        // built with -sanitize=fuzzer, which the ordinary build must not be).
        .library(name: "FuzzEntries", targets: ["FuzzEntries"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // MARK: C shims over system libraries
        .target(name: "COpenBLAS", linkerSettings: [.linkedLibrary("openblas")]),
        .target(name: "CKernels", dependencies: ["COpenBLAS"], cSettings: kernelFlags),
        .target(name: "CCrypto", linkerSettings: [.linkedLibrary("nettle"), .linkedLibrary("hogweed")]),
        .target(name: "CImageCodecs", cSettings: shimFlags,
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("webp")]),
        .target(name: "CGPIOD", cSettings: shimFlags, linkerSettings: [.linkedLibrary("gpiod")]),
        .target(name: "CV4L2", cSettings: shimFlags),
        .target(name: "CSystem", cSettings: shimFlags),

        // MARK: Libraries
        .target(name: "Support", dependencies: ["CCrypto", "CSystem", logging]),
        .target(name: "NeuralNet", dependencies: ["Support", "CKernels", "COpenBLAS", logging]),
        .target(name: "Imaging", dependencies: ["Support", "CImageCodecs"]),
        // The latch link (the recognition side's requests, the owner's replies) and the latch owner, which alone
        // holds the GPIO line (dogdoor-latch).
        .target(name: "LatchLink", dependencies: ["Support"]),
        .target(name: "LatchOwner", dependencies: ["LatchLink", "Support", "CGPIOD", "CSystem", logging]),
        .target(name: "Door", dependencies: ["Support", "LatchLink", logging]),
        .target(name: "Training", dependencies: ["NeuralNet", "Imaging", "Support", logging]),
        // Pixel loops optimised even in debug builds: the tests render a few hundred pictures.
        .target(name: "Samples", dependencies: ["Imaging", "Support"], swiftSettings: [.unsafeFlags(["-O"])]),
        .target(name: "Daemon", dependencies: ["Door", "LatchLink", "NeuralNet", "Imaging", "Support", "CV4L2", logging]),

        .target(name: "CommandSupport", dependencies: ["NeuralNet", "Support", argumentParser, logging]),

        // MARK: Executables (thin: parsing and wiring only)
        .executableTarget(name: "dogdoor", dependencies: ["NeuralNet", "Training", "Daemon", "Door", "Imaging", "Samples", "Support",
                                                          "CommandSupport", argumentParser, logging]),
        .executableTarget(name: "dogdoord", dependencies: ["Daemon", "Door", "NeuralNet", "Support", "CommandSupport",
                                                           argumentParser, logging]),
        .executableTarget(name: "dogdoor-train", dependencies: ["Training", "NeuralNet", "Imaging", "Support", "CommandSupport",
                                                                argumentParser, logging]),

        .executableTarget(name: "dogdoor-latch", dependencies: ["LatchOwner", "LatchLink", "Door", "Support", argumentParser, logging]),

        // MARK: Tests
        // Shared test support: float64 references, optimised (the references run real-sized networks).
        .target(name: "TestSupport", dependencies: ["NeuralNet", "Support"], path: "Tests/TestSupport",
                swiftSettings: [.unsafeFlags(["-O"])]),
        // Picks the OpenBLAS kernel as the programs do, before any test runs (a constructor).
        .target(name: "CTestBootstrap", dependencies: ["TestSupport"], path: "Tests/CTestBootstrap"),
        // The parsers as fuzzing entry points: used by Fuzz/ and by the regression tests.
        .target(name: "FuzzEntries", dependencies: ["Door", "Imaging", "LatchLink", "NeuralNet", "Samples", "Support", "CSystem"],
                path: "Tests/FuzzEntries"),
        .testTarget(name: "SupportTests", dependencies: ["Support"]),
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet", "Support", "CKernels", "TestSupport", "CTestBootstrap"],
                    resources: [.copy("Golden")]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Support", "CImageCodecs"],
                    resources: [.copy("Golden")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "NeuralNet", "Imaging", "Support"]),
        .testTarget(name: "SamplesTests", dependencies: ["Samples", "Imaging", "Support"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "Door", "LatchLink", "Imaging", "NeuralNet", "Samples", "Support"]),
        .testTarget(name: "DoorTests", dependencies: ["Door", "LatchLink", "Support", "TestSupport"]),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzEntries", "Imaging", "Support"]),
        .testTarget(name: "LatchTests", dependencies: ["LatchOwner", "LatchLink", "Support", "CGPIOD", "TestSupport"]),
    ]
)
