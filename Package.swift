// swift-tools-version:6.0
import Foundation
import PackageDescription

/// The CPU backend's vector code (GELU, softmax, LayerNorm, the Fisher's squaring pass) compiled
/// for AVX2 where the build machine has it: baseline x86-64 splits every 8-lane SIMD operation into
/// two SSE ones. A MiniLM Fisher runs 6% faster (10 interleaved runs) and gives the same bytes:
/// Swift never contracts a·b + c into an FMA on its own. Like ggml's native builds, but at the
/// Haswell level rather than this very CPU, so a binary runs on any x86-64 CPU with AVX2 (every
/// server CPU since 2015). `GUIDED_PORTABLE=1 swift build …` builds for baseline x86-64 instead
/// (SwiftPM notices the change and rebuilds). A package that depends on guided's libraries by
/// version cannot take a target with unsafe flags; it would build with GUIDED_PORTABLE=1.
let hostHasAVX2: Bool = {
    #if arch(x86_64) && os(Linux)
    guard ["", "0"].contains(ProcessInfo.processInfo.environment["GUIDED_PORTABLE"] ?? ""),
          let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
    let flags = Set(line.split(separator: " ").map(String.init))
    // What LLVM's `haswell` may emit beyond baseline x86-64 (abm is how Linux names lzcnt).
    return Set(["avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm", "popcnt"]).isSubset(of: flags)
    #else
    return false
    #endif
}()
let computeSettings: [SwiftSetting] = hostHasAVX2 ? [.unsafeFlags(["-target-cpu", "haswell"]), .define("GUIDED_AVX2")] : []

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
            dependencies: ["COpenCL", "CCLBlast", "CBLAS", "GuidedKernels"],
            swiftSettings: computeSettings
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
