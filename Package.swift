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
        // Drawn sample pictures for demos and tests (dogdoor samples forwards to it).
        .executable(name: "dogdoor-samples", targets: ["dogdoor-samples"]),
        // The local web app beside the daemon (status, commands, timeline, metrics); dogdoor web forwards to it.
        .executable(name: "dogdoor-web", targets: ["dogdoor-web"]),
        // The fuzzing entry points, for the libFuzzer executables of Fuzz/ (a package of their own: they are
        // built with -sanitize=fuzzer, which the ordinary build must not be).
        .library(name: "FuzzEntries", targets: ["FuzzEntries"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // The web app (dogdoor-web): HTTP server, sessions and bcrypt, templates, Prometheus exposition.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // MARK: C shims over system libraries
        .target(name: "COpenBLAS", linkerSettings: [.linkedLibrary("openblas")]),
        .target(name: "CKernels", dependencies: ["COpenBLAS"], cSettings: kernelFlags),
        .target(name: "CCrypto", linkerSettings: [.linkedLibrary("nettle"), .linkedLibrary("hogweed")]),
        .target(
            name: "CImageCodecs", cSettings: shimFlags,
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("webp")]),
        .target(name: "CGPIOD", cSettings: shimFlags, linkerSettings: [.linkedLibrary("gpiod")]),
        .target(name: "CV4L2", cSettings: shimFlags),
        .target(name: "CDoorSystem", cSettings: shimFlags),
        .target(name: "CMosquitto", cSettings: shimFlags, linkerSettings: [.linkedLibrary("mosquitto")]),

        // MARK: Libraries
        .target(name: "Support", dependencies: ["CCrypto", "CDoorSystem", logging]),
        .target(name: "NeuralNet", dependencies: ["Support", "CKernels", "COpenBLAS", logging]),
        .target(name: "Imaging", dependencies: ["Support", "CImageCodecs"]),
        // The latch link (the recognition side's requests, the owner's replies) and the latch owner, which alone
        // holds the GPIO line (dogdoor-latch).
        .target(name: "LatchLink", dependencies: ["Support"]),
        .target(name: "LatchOwner", dependencies: ["LatchLink", "Support", "CGPIOD", "CDoorSystem", logging]),
        // The frame's path from camera to latch (docs/architecture.md), each room a target:
        // the pure decision core (policy, parameters, curfews; no I/O),
        .target(name: "DecisionCore", dependencies: ["LatchLink", "Support"]),
        // dogdoord.toml, validated into the real types of the modules it configures,
        .target(
            name: "DoorConfiguration", dependencies: ["DecisionCore", "LatchLink", "Imaging", "NeuralNet", "Support"]),
        // the control socket's protocol, server and client (dogdoor status/lock/unlock),
        .target(
            name: "Control", dependencies: ["Camera", "DecisionCore", "LatchLink", "Support", "CDoorSystem", logging]),
        // the durable records: decision events (JSON lines) and snapshots,
        .target(name: "EventLog", dependencies: ["DecisionCore", "Support"]),
        // frame sources: V4L2 cameras (with their identity) and replayed folders,
        .target(name: "Camera", dependencies: ["DoorConfiguration", "Imaging", "Support", "CV4L2", logging]),
        // the model bound to its preprocessing, the motion gate, and the worker thread that runs them,
        .target(name: "Inference", dependencies: ["Camera", "DoorConfiguration", "Imaging", "NeuralNet", "Support"]),
        // and dogdoord's runtime that wires them: the decision loop, commands, reload, latch link, events.
        .target(
            name: "DaemonRuntime",
            dependencies: [
                "Camera", "DoorConfiguration", "Control", "DecisionCore", "EventLog",
                "Inference", "LatchLink", "Imaging", "NeuralNet", "Support", logging,
            ]),

        // Offline: transfer learning, and its HTML report apart from it.
        .target(name: "Training", dependencies: ["NeuralNet", "Imaging", "Support", logging]),
        .target(name: "TrainingReport", dependencies: ["Training", "Support"]),
        // Generated demo and test pictures (procedural drawing; pixel loops optimised even in debug builds:
        // the tests render a few hundred pictures).
        .target(name: "Samples", dependencies: ["Imaging", "Support"], swiftSettings: [.unsafeFlags(["-O"])]),

        // What every program's command line shares: one way to report failures, --version, typed choices;
        // and the options of the programs that run the engine (threads, OpenBLAS kernel, plans, formats).
        .target(name: "CommandSupport", dependencies: ["Support", argumentParser, logging]),
        .target(
            name: "EngineOptions",
            dependencies: ["CommandSupport", "Imaging", "NeuralNet", "Support", argumentParser, logging]),

        // The web app's pure parts and file formats (no server, no network: fuzzed like every parser): the
        // daemon's events read back, model headers, the users file, labels, web.toml, Home Assistant's messages.
        .target(
            name: "WebCore",
            dependencies: [
                "Camera", "Control", "DoorConfiguration", "LatchLink", "Support",
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ]),
        // The web app: a process of its own that talks to dogdoord over the control socket and reads its events.
        .target(
            name: "WebApp",
            dependencies: [
                "CMosquitto", "Control", "DecisionCore", "DoorConfiguration", "LatchLink", "Camera", "Support",
                "WebCore",
                logging,
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),

        // MARK: Executables (thin: parsing and wiring only)
        .executableTarget(
            name: "dogdoor",
            dependencies: [
                "Camera", "CommandSupport", "EngineOptions", "DecisionCore", "DoorConfiguration", "Control", "Imaging",
                "Inference", "NeuralNet", "Samples", "Support", "Training", "TrainingReport",
                argumentParser, logging,
            ]),
        .executableTarget(
            name: "dogdoor-samples", dependencies: ["CommandSupport", "Samples", "Support", argumentParser]),
        .executableTarget(
            name: "dogdoord",
            dependencies: [
                "CommandSupport", "EngineOptions", "DoorConfiguration", "DaemonRuntime", "Inference", "NeuralNet",
                "Support", argumentParser, logging,
            ]),
        .executableTarget(
            name: "dogdoor-train",
            dependencies: [
                "CommandSupport", "EngineOptions", "Imaging", "NeuralNet", "Support", "Training",
                "TrainingReport", argumentParser, logging,
            ]),

        .executableTarget(
            name: "dogdoor-web",
            dependencies: [
                "CommandSupport", "DoorConfiguration", "WebApp", "WebCore", "Support", argumentParser, logging,
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(
            name: "dogdoor-latch",
            dependencies: [
                "CommandSupport", "DoorConfiguration", "DecisionCore", "LatchOwner", "LatchLink", "Support",
                argumentParser, logging,
            ]),

        // MARK: Tests
        // Shared test support: float64 references, optimised (the references run real-sized networks).
        .target(
            name: "TestSupport", dependencies: ["DecisionCore", "NeuralNet", "Support", "Training"],
            path: "Tests/TestSupport",
            swiftSettings: [.unsafeFlags(["-O"])]),
        // Picks the OpenBLAS kernel as the programs do, before any test runs (a constructor).
        .target(name: "CTestBootstrap", dependencies: ["TestSupport"], path: "Tests/CTestBootstrap"),
        // The parsers as fuzzing entry points: used by Fuzz/ and by the regression tests.
        .target(
            name: "FuzzEntries",
            dependencies: [
                "DoorConfiguration", "Control", "Imaging", "LatchLink", "NeuralNet", "Samples", "Support", "WebCore",
                "CDoorSystem",
            ],
            path: "Tests/FuzzEntries"),
        .testTarget(name: "SupportTests", dependencies: ["Support", "TestSupport"]),
        .testTarget(
            name: "NeuralNetTests",
            dependencies: ["NeuralNet", "Support", "CKernels", "COpenBLAS", "TestSupport", "CTestBootstrap"],
            resources: [.copy("Golden")]),
        .testTarget(
            name: "ImagingTests", dependencies: ["Imaging", "Support", "CImageCodecs"],
            resources: [.copy("Golden")]),
        .testTarget(
            name: "TrainingTests", dependencies: ["Training", "NeuralNet", "Imaging", "Support", "TestSupport"]),
        .testTarget(
            name: "TrainingReportTests",
            dependencies: ["TrainingReport", "Training", "Imaging", "Support", "TestSupport"]),
        .testTarget(name: "SamplesTests", dependencies: ["Samples", "Imaging", "Support", "TestSupport"]),
        .testTarget(name: "DecisionCoreTests", dependencies: ["DecisionCore", "LatchLink", "Support", "TestSupport"]),
        .testTarget(
            name: "DoorConfigurationTests",
            dependencies: ["DoorConfiguration", "DecisionCore", "LatchLink", "Support", "TestSupport"]),
        .testTarget(
            name: "ControlTests",
            dependencies: ["Camera", "Control", "DecisionCore", "LatchLink", "Support", "TestSupport"]),
        .testTarget(name: "EventLogTests", dependencies: ["EventLog", "DecisionCore", "Support", "TestSupport"]),
        // The daemon as a whole: its runtime's parts, and the real binaries end to end.
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "Camera", "Control", "DaemonRuntime", "Inference", "LatchLink", "Imaging",
                "NeuralNet", "Samples", "Support", "TestSupport",
            ]),
        .testTarget(
            name: "WebAppTests",
            dependencies: [
                "WebApp", "WebCore", "Control", "DecisionCore", "LatchLink", "Support", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzEntries", "Imaging", "Support"]),
        .testTarget(name: "LatchTests", dependencies: ["LatchOwner", "LatchLink", "Support", "CGPIOD", "TestSupport"]),
    ]
)
