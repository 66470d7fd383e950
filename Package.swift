// swift-tools-version:6.0
import PackageDescription

// Layers, each depending only on the ones below it (see ../shared/DESIGN.md, "Layout"):
//   C shims (COpenCL, CCLBlast, CBLAS) → GuidedKernels (the .cl sources as resources)
//   → GuidedCompute (Backend protocol, CPU and OpenCL backends)
//   → GuidedModel (safetensors, checkpoints, tokenizer, BERT)
//   → GuidedMethod (Fisher estimation and analyses, schedules) and GuidedTraining (GLUE, metrics)
//   → guided (the CLI).
let package = Package(
    name: "guided",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "guided", targets: ["guided"]),
        .library(name: "GuidedCompute", targets: ["GuidedCompute"]),
        .library(name: "GuidedModel", targets: ["GuidedModel"]),
        .library(name: "GuidedMethod", targets: ["GuidedMethod"]),
        .library(name: "GuidedTraining", targets: ["GuidedTraining"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        .systemLibrary(name: "CCLBlast", path: "Sources/CCLBlast"),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .target(
            name: "GuidedKernels",
            path: "Kernels",
            resources: [.copy("cl")]
        ),
        .target(
            name: "GuidedCompute",
            dependencies: ["COpenCL", "CCLBlast", "CBLAS", "GuidedKernels"]
        ),
        .target(
            name: "GuidedModel",
            dependencies: ["GuidedCompute"]
        ),
        .target(
            name: "GuidedMethod",
            dependencies: ["GuidedCompute", "GuidedModel", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "GuidedTraining",
            dependencies: ["GuidedCompute", "GuidedModel", "GuidedMethod"]
        ),
        .executableTarget(
            name: "guided",
            dependencies: [
                "GuidedCompute",
                "GuidedModel",
                "GuidedMethod",
                "GuidedTraining",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "GuidedComputeTests",
            dependencies: ["GuidedCompute", "GuidedKernels"]
        ),
        .testTarget(
            name: "GuidedModelTests",
            dependencies: ["GuidedModel", "GuidedCompute"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "GuidedMethodTests",
            dependencies: ["GuidedMethod", "GuidedModel", "GuidedCompute"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "GuidedTrainingTests",
            dependencies: ["GuidedTraining", "GuidedModel", "GuidedCompute"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
