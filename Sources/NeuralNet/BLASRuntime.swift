import COpenBLAS
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the CPU can run, as far as OpenBLAS's x86-64 kernel families care.
public struct CPUFeatures: OptionSet, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let sse3 = CPUFeatures(rawValue: UInt32(DD_CPU_SSE3))
    public static let ssse3 = CPUFeatures(rawValue: UInt32(DD_CPU_SSSE3))
    public static let sse41 = CPUFeatures(rawValue: UInt32(DD_CPU_SSE41))
    public static let sse42 = CPUFeatures(rawValue: UInt32(DD_CPU_SSE42))
    public static let avx = CPUFeatures(rawValue: UInt32(DD_CPU_AVX))
    public static let avx2 = CPUFeatures(rawValue: UInt32(DD_CPU_AVX2))
    public static let fma = CPUFeatures(rawValue: UInt32(DD_CPU_FMA))
    public static let avx512f = CPUFeatures(rawValue: UInt32(DD_CPU_AVX512F))
    public static let avx512dq = CPUFeatures(rawValue: UInt32(DD_CPU_AVX512DQ))
    public static let avx512bw = CPUFeatures(rawValue: UInt32(DD_CPU_AVX512BW))
    public static let avx512vl = CPUFeatures(rawValue: UInt32(DD_CPU_AVX512VL))
    public static let avx512cd = CPUFeatures(rawValue: UInt32(DD_CPU_AVX512CD))
    public static let avx512bf16 = CPUFeatures(rawValue: UInt32(DD_CPU_AVX512BF16))

    /// What AVX-512 code needs (OpenBLAS's SkylakeX kernels, the x86-64-v4 level of the engine's loops).
    public static let avx512Set: CPUFeatures = [.avx512f, .avx512dq, .avx512bw, .avx512vl, .avx2, .fma]

    /// The features of the CPU this process runs on.
    public static var current: CPUFeatures { CPUFeatures(rawValue: dd_cpu_features()) }

    public var description: String {
        let names: [(CPUFeatures, String)] = [
            (.sse3, "sse3"), (.ssse3, "ssse3"), (.sse41, "sse4.1"), (.sse42, "sse4.2"), (.avx, "avx"),
            (.avx2, "avx2"), (.fma, "fma"), (.avx512f, "avx512f"), (.avx512dq, "avx512dq"), (.avx512bw, "avx512bw"),
            (.avx512vl, "avx512vl"), (.avx512cd, "avx512cd"), (.avx512bf16, "avx512bf16"),
        ]
        return names.filter { contains($0.0) }.map(\.1).joined(separator: " ")
    }
}

/// Decides whether OpenBLAS picked kernels below what the CPU can run.
///
/// Debian 12's OpenBLAS 0.3.21 identifies CPUs by family and model number; a CPU newer than the library
/// (or one a hypervisor disguises) falls back to "Prescott", SSE3 kernels about 3x slower than the AVX-512
/// ones the CPU could run. The fix is to name the kernel family in `OPENBLAS_CORETYPE` before the library
/// initialises, which happens when it is loaded, so the process has to start again (see `BLASRuntime`).
public enum KernelAdvisor {
    /// Rank of an OpenBLAS x86-64 core name by the instruction set its kernels use; nil for names this
    /// table does not know (other architectures, or newer names), which are never second-guessed.
    static func rank(ofCore name: String) -> Int? {
        switch name.lowercased() {
        case "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "athlon", "opteron", "opteron_sse3",
             "barcelona", "nano", "katmai", "coppermine", "northwood", "banias", "generic":
            return 0  // SSE2/SSE3 kernels
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator":
            return 1  // AVX
        case "haswell", "zen":
            return 2  // AVX2 + FMA
        case "skylakex", "cooperlake", "sapphirerapids":
            return 3  // AVX-512
        default:
            return nil
        }
    }

    /// The best core name the CPU supports, with its rank; nil if nothing better than SSE3 applies.
    static func best(for features: CPUFeatures) -> (name: String, rank: Int)? {
        if features.isSuperset(of: .avx512Set) { return ("SkylakeX", 3) }
        if features.isSuperset(of: [.avx2, .fma]) { return ("Haswell", 2) }
        if features.contains(.avx) { return ("Sandybridge", 1) }
        return nil
    }

    /// The `OPENBLAS_CORETYPE` to use instead of what the library detected, or nil when its choice is right.
    public static func recommendedCore(detected: String, features: CPUFeatures) -> String? {
        guard let detectedRank = rank(ofCore: detected), let best = best(for: features) else { return nil }
        return best.rank > detectedRank ? best.name : nil
    }
}

/// OpenBLAS as the process uses it: which kernels run, and how the choice was made.
public enum BLASRuntime {
    /// Environment variable that marks a process already restarted to fix the kernel choice; holds the
    /// core name OpenBLAS detected by itself.
    static let restartMarker = "DOGDOOR_OPENBLAS_DETECTED"

    /// How the kernel family in use was chosen.
    public enum Choice: Sendable, Equatable {
        /// OpenBLAS's own detection was kept.
        case detected
        /// `OPENBLAS_CORETYPE` was set by the user (environment, flag or configuration).
        case user(String)
        /// DogDoor replaced a misdetected core (`from`) with one the CPU supports.
        case corrected(from: String)
    }

    /// Name of the kernel family OpenBLAS runs ("SkylakeX", ...).
    public static var coreName: String { String(cString: dd_openblas_corename()) }

    /// OpenBLAS's build description.
    public static var configuration: String { String(cString: dd_openblas_config()) }

    /// Makes sure OpenBLAS runs the best kernels the CPU supports. Call first thing in `main`.
    ///
    /// - If `coreOverride` is given and differs from the environment, sets `OPENBLAS_CORETYPE` and restarts.
    /// - Else if `OPENBLAS_CORETYPE` is already set, that is the user's choice and is kept.
    /// - Else if OpenBLAS picked kernels below what the CPU runs, sets `OPENBLAS_CORETYPE` and restarts
    ///   the process (same pid, same arguments) so that the library initialises again with it.
    ///
    /// Returns how the choice was made; only returns after a restart, or when none was needed or possible.
    @discardableResult
    public static func ensureBestKernel(arguments: [String] = CommandLine.arguments, coreOverride: String? = nil,
                                        logger: Logger? = nil) -> Choice {
        // An empty value counts as unset (OpenBLAS itself ignores it).
        let env = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        let marker = getenv(restartMarker).map { String(cString: $0) }
        if let coreOverride, !coreOverride.isEmpty, coreOverride != env {
            setenv("OPENBLAS_CORETYPE", coreOverride, 1)
            restart(arguments, logger: logger)
            return .user(coreOverride)  // restart failed; logged
        }
        if let marker, env != nil { return .corrected(from: marker) }
        if let env { return .user(env) }
        let detected = coreName
        guard let better = KernelAdvisor.recommendedCore(detected: detected, features: .current) else { return .detected }
        logger?.notice("OpenBLAS picked slow kernels for this CPU; restarting with better ones",
                       metadata: ["detected": "\(detected)", "using": "\(better)"])
        setenv("OPENBLAS_CORETYPE", better, 1)
        setenv(restartMarker, detected, 1)
        restart(arguments, logger: logger)
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(restartMarker)
        return .detected
    }

    private static func restart(_ arguments: [String], logger: Logger?) {
        var cArgs = arguments.map { strdup($0) }
        cArgs.append(nil)
        _ = dd_reexec_self(&cArgs)
        let code = errno
        for p in cArgs { free(p) }
        logger?.error("could not restart to select OpenBLAS kernels; continuing with the detected ones",
                      metadata: ["error": "\(SystemErrorText(code))"])
    }

    /// Number of engine threads by default: the CPUs online.
    public static var defaultThreads: Int { Int(dd_online_cpus()) }

    /// The engine splits work over its own threads and calls OpenBLAS from each of them, so OpenBLAS itself
    /// runs single-threaded per call. Call once before computing.
    public static func configureForEngineThreads() {
        dd_openblas_set_num_threads(1)
    }

    /// A one-line description for logs and `dogdoor bench`.
    public static func describe(_ choice: Choice) -> String {
        switch choice {
        case .detected: return "\(coreName) (detected by OpenBLAS)"
        case .user(let name): return "\(coreName) (OPENBLAS_CORETYPE=\(name) set by the user)"
        case .corrected(let from): return "\(coreName) (OpenBLAS detected \(from); corrected by DogDoor)"
        }
    }
}

private func SystemErrorText(_ code: Int32) -> String { String(cString: strerror(code)) }
