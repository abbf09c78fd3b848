import COpenBLAS
import Logging
import Support

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

    /// The kernel families to fall back to, best first, when the running one computes wrong results: the
    /// x86-64 families the CPU runs (SkylakeX, Haswell, Sandybridge, Prescott), or on other architectures
    /// OpenBLAS's generic kernels for that architecture.
    static func fallbacks(for features: CPUFeatures) -> [String] {
        #if arch(x86_64)
        var names: [String] = []
        if features.isSuperset(of: .avx512Set) { names.append("SkylakeX") }
        if features.isSuperset(of: [.avx2, .fma]) { names.append("Haswell") }
        if features.contains(.avx) { names.append("Sandybridge") }
        return names + ["Prescott"]
        #elseif arch(arm64)
        return ["ARMV8"]
        #else
        return []
        #endif
    }

    /// The kernel families worth testing on a CPU: the one OpenBLAS detects, the one DogDoor picks, and
    /// every AVX-512 and AVX2 family the CPU runs (a user may choose any; DogDoor falls back to them).
    public static func testedCores(detected: String, features: CPUFeatures) -> [String] {
        var names = [detected]
        if let better = recommendedCore(detected: detected, features: features) { names.append(better) }
        #if arch(x86_64)
        if features.isSuperset(of: .avx512Set) {
            names.append("SkylakeX")
            if features.contains(.avx512bf16) { names.append("Cooperlake") }
        }
        if features.isSuperset(of: [.avx2, .fma]) { names.append("Haswell") }
        #endif
        var seen = Set<String>()
        return names.filter { seen.insert($0.lowercased()).inserted }
    }

    /// What the process's environment says about the kernel choice so far.
    public struct Environment: Equatable, Sendable {
        /// `OPENBLAS_CORETYPE` (empty counts as unset, as OpenBLAS treats it).
        public var coreType: String?
        /// The core OpenBLAS detected, recorded when DogDoor set `coreType` and restarted.
        public var detectedMarker: String?
        /// Cores that failed the GEMM check in earlier starts of this process, in order.
        public var rejected: [String]

        public init(coreType: String?, detectedMarker: String?, rejected: [String]) {
            self.coreType = coreType
            self.detectedMarker = detectedMarker
            self.rejected = rejected
        }
    }

    /// What to do about the kernel the process runs.
    public enum Decision: Equatable, Sendable {
        /// Keep it: it was chosen as described and computes correctly.
        case keep(BLASRuntime.Choice)
        /// Start again with `OPENBLAS_CORETYPE = core`; `environment` is the whole new state to record.
        case restart(Environment, reason: Reason)
        /// No kernel can be used: the user's choice computes wrong results, or every fallback failed.
        case fail(String)

        public enum Reason: Equatable, Sendable {
            /// OpenBLAS picked kernels below what the CPU runs.
            case slowKernel
            /// The user named a kernel (flag or configuration).
            case userChoice
            /// The running kernel failed the GEMM check (described).
            case wrongResults(String)
        }
    }

    /// Decides, from the environment, the kernel running now, the CPU and (when needed) the GEMM check of the
    /// running kernel, whether to keep it. Pure: `ensureBestKernel` carries the decision out.
    ///
    /// - A `coreOverride` (flag or configuration) that differs from `OPENBLAS_CORETYPE` restarts with it.
    /// - A user's `OPENBLAS_CORETYPE` is kept when it computes correctly, and is an error when it does not.
    /// - Otherwise a misdetected slow kernel is replaced by the best the CPU runs, and a kernel that fails the
    ///   check by the next family down that has not failed yet.
    public static func decide(
        coreOverride: String?, environment env: Environment, running: String,
        features: CPUFeatures, check: () -> String?
    ) -> Decision {
        if let coreOverride, !coreOverride.isEmpty, coreOverride != env.coreType {
            return .restart(Environment(coreType: coreOverride, detectedMarker: nil, rejected: []), reason: .userChoice)
        }
        let detected: String
        switch (env.coreType, env.detectedMarker) {
        case (let user?, nil):
            if let failure = check() {
                return .fail(
                    "OpenBLAS's \(running) kernels (OPENBLAS_CORETYPE=\(user), set by the user) compute wrong "
                        + "results on this CPU: \(failure). Unset OPENBLAS_CORETYPE (DogDoor then picks kernels that pass) "
                        + "or name another family")
            }
            return .keep(.user(user))
        case (nil, _):
            detected = running
            if let better = recommendedCore(detected: detected, features: features) {
                return .restart(
                    Environment(coreType: better, detectedMarker: detected, rejected: []), reason: .slowKernel)
            }
        case (_?, let marker?):
            detected = marker
        }
        guard let failure = check() else {
            if !env.rejected.isEmpty { return .keep(.fallback(rejected: env.rejected, detected: detected)) }
            return .keep(env.coreType == nil ? .detected : .corrected(from: detected))
        }
        let rejected = env.rejected + [running]
        let rejectedNames = Set(rejected.map { $0.lowercased() })
        let runningRank = rank(ofCore: running) ?? Int.max
        guard
            let next = fallbacks(for: features).first(where: {
                !rejectedNames.contains($0.lowercased()) && (rank(ofCore: $0) ?? -1) <= runningRank
            })
        else {
            return .fail(
                "no OpenBLAS kernel family computes correctly on this CPU (tried \(rejected.joined(separator: ", "))); "
                    + "the last failure: \(failure)")
        }
        return .restart(
            Environment(coreType: next, detectedMarker: detected, rejected: rejected), reason: .wrongResults(failure))
    }
}

/// The kernel OpenBLAS runs cannot be used (see `KernelAdvisor.decide`).
public struct BLASKernelError: Error, CustomStringConvertible {
    public let description: String
}

/// OpenBLAS as the process uses it: which kernels run, and how the choice was made.
public enum BLASRuntime {
    /// Environment variable that marks a process restarted by DogDoor to fix the kernel choice; holds the
    /// core name OpenBLAS detected by itself.
    static let restartMarker = "DOGDOOR_OPENBLAS_DETECTED"
    /// Environment variable listing the cores that failed the GEMM check (comma-separated).
    static let rejectedMarker = "DOGDOOR_OPENBLAS_REJECTED"

    /// How the kernel family in use was chosen.
    public enum Choice: Sendable, Equatable {
        /// OpenBLAS's own detection was kept.
        case detected
        /// `OPENBLAS_CORETYPE` was set by the user (environment, flag or configuration).
        case user(String)
        /// DogDoor replaced a misdetected core (`from`) with one the CPU supports.
        case corrected(from: String)
        /// The cores in `rejected` computed wrong results; DogDoor fell back to the one running now.
        case fallback(rejected: [String], detected: String)
    }

    /// Name of the kernel family OpenBLAS runs ("SkylakeX", ...).
    public static var coreName: String { String(cString: dd_openblas_corename()) }

    /// OpenBLAS's build description.
    public static var configuration: String { String(cString: dd_openblas_config()) }

    /// Checks that the running kernel computes the products the engine uses, against a float64 reference,
    /// on two threads at once. Returns nil when it does, else what went wrong. About 10-20 ms.
    public static func checkGEMM() -> String? {
        var failure = dd_gemm_check_failure()
        let count = dd_blas_check_gemm(2, &failure)
        guard count > 0 else { return nil }
        let f = failure
        let where_ = f.row >= 0 ? " at element (\(f.row), \(f.column))" : ""
        let error = f.relative_error.isNaN ? "a non-finite or stray value" : "relative error \(f.relative_error)"
        return "sgemm(\(f.trans_a != 0 ? "A transposed" : "A plain"), m \(f.m), n \(f.n), k \(f.k), lda \(f.lda), "
            + "ldb \(f.ldb), ldc \(f.ldc), beta \(f.beta)) gave \(error)\(where_)"
            + (count > 1 ? " (\(count) failing cases in all)" : "")
    }

    /// The process's kernel environment.
    static var environment: KernelAdvisor.Environment {
        func value(_ name: String) -> String? {
            getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        return KernelAdvisor.Environment(
            coreType: value("OPENBLAS_CORETYPE"), detectedMarker: value(restartMarker),
            rejected: value(rejectedMarker)?.split(separator: ",").map(String.init) ?? [])
    }

    /// Makes sure OpenBLAS runs the best kernels the CPU supports, and that they compute correctly. Call first
    /// thing in `main` (the tests do it before they start: see `TestSupport`).
    ///
    /// Carries out `KernelAdvisor.decide`: may restart the process (same pid, same arguments) with another
    /// `OPENBLAS_CORETYPE`, because OpenBLAS reads it only when it is loaded. Returns how the running kernel
    /// was chosen; throws when no kernel can be used (the user's choice computes wrong results, or every
    /// fallback does).
    @discardableResult
    public static func ensureBestKernel(
        arguments: [String] = CommandLine.arguments, coreOverride: String? = nil,
        logger: Logger? = nil
    ) throws(BLASKernelError) -> Choice {
        let env = environment
        let running = coreName
        let decision = KernelAdvisor.decide(
            coreOverride: coreOverride, environment: env, running: running,
            features: .current, check: checkGEMM)
        switch decision {
        case .keep(let choice):
            return choice
        case .fail(let message):
            throw BLASKernelError(description: message)
        case .restart(let next, let reason):
            switch reason {
            case .slowKernel:
                logger?.notice(
                    "OpenBLAS picked slow kernels for this CPU; restarting with better ones",
                    metadata: ["detected": "\(running)", "using": "\(next.coreType ?? "")"])
            case .userChoice:
                break
            case .wrongResults(let failure):
                logger?.warning(
                    "OpenBLAS's kernels compute wrong results on this CPU; restarting with the next family",
                    metadata: ["kernel": "\(running)", "failure": "\(failure)", "using": "\(next.coreType ?? "")"])
            }
            apply(next)
            restart(arguments, logger: logger)
            // Still here: the restart failed (logged). Slow but correct kernels can stay; wrong ones cannot.
            apply(env)
            switch reason {
            case .slowKernel: return .detected
            case .userChoice: return env.coreType.map { .user($0) } ?? .detected
            case .wrongResults(let failure):
                throw BLASKernelError(
                    description: "OpenBLAS's \(running) kernels compute wrong results on this CPU (\(failure)) "
                        + "and the process could not restart with others; set OPENBLAS_CORETYPE=\(next.coreType ?? "")")
            }
        }
    }

    private static func apply(_ env: KernelAdvisor.Environment) {
        func set(_ name: String, _ value: String?) {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
        set("OPENBLAS_CORETYPE", env.coreType)
        set(restartMarker, env.detectedMarker)
        set(rejectedMarker, env.rejected.isEmpty ? nil : env.rejected.joined(separator: ","))
    }

    private static func restart(_ arguments: [String], logger: Logger?) {
        var cArgs = arguments.map { strdup($0) }
        cArgs.append(nil)
        let code = -dd_reexec_self(&cArgs)
        for p in cArgs { free(p) }
        logger?.error("could not restart to select OpenBLAS kernels", metadata: ["error": "\(SystemErrorText(code))"])
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
        case .fallback(let rejected, let detected):
            return
                "\(coreName) (OpenBLAS detected \(detected); \(rejected.joined(separator: ", ")) failed DogDoor's GEMM check)"
        }
    }
}

private func SystemErrorText(_ code: Int32) -> String { String(cString: strerror(code)) }
