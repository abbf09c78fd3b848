// swift-tools-version:6.0
import PackageDescription

/// The libFuzzer executable for DogDoor's parsers. A package of its own because it is built with
/// `-sanitize=fuzzer,address` (see Scripts/fuzz.sh), which the ordinary build must not be; the entry points
/// live in the main package (`FuzzEntries`) so that the regression tests run the very same code.
let package = Package(
    name: "DogDoorFuzz",
    dependencies: [.package(name: "DogDoor", path: "..")],
    targets: [
        .target(name: "CFuzzer"),
        .executableTarget(
            name: "dogdoor-fuzz", dependencies: ["CFuzzer", .product(name: "FuzzEntries", package: "DogDoor")]),
    ]
)
