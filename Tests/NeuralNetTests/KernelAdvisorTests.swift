import NeuralNet
import Support
import TestSupport
import Testing

@Suite struct KernelAdvisorTests {
    static let skylakeX: CPUFeatures = [
        .sse3, .ssse3, .sse41, .sse42, .avx, .avx2, .fma, .avx512f, .avx512dq, .avx512bw, .avx512vl, .avx512cd,
    ]
    static let haswell: CPUFeatures = [.sse3, .ssse3, .sse41, .sse42, .avx, .avx2, .fma]

    @Test func correctsPrescottOnAnAVX512Machine() {
        #expect(KernelAdvisor.recommendedCore(detected: "Prescott", features: Self.skylakeX) == "SkylakeX")
        #expect(KernelAdvisor.recommendedCore(detected: "Haswell", features: Self.skylakeX) == "SkylakeX")
        #expect(KernelAdvisor.recommendedCore(detected: "Prescott", features: Self.haswell) == "Haswell")
        #expect(KernelAdvisor.recommendedCore(detected: "Nehalem", features: [.sse3, .avx]) == "Sandybridge")
    }

    @Test func keepsCorrectOrUnknownChoices() {
        #expect(KernelAdvisor.recommendedCore(detected: "SkylakeX", features: Self.skylakeX) == nil)
        #expect(KernelAdvisor.recommendedCore(detected: "Cooperlake", features: Self.skylakeX) == nil)
        #expect(KernelAdvisor.recommendedCore(detected: "Haswell", features: Self.haswell) == nil)
        #expect(KernelAdvisor.recommendedCore(detected: "Prescott", features: [.sse3, .ssse3]) == nil)
        // Names the table does not know (ARM boards, future x86 names) are never second-guessed.
        #expect(KernelAdvisor.recommendedCore(detected: "CORTEXA72", features: []) == nil)
        #expect(KernelAdvisor.recommendedCore(detected: "FutureLake", features: Self.skylakeX) == nil)
        // AVX-512 without the BW/VL subsets SkylakeX kernels use (Knights Landing) gets AVX2 kernels.
        #expect(
            KernelAdvisor.recommendedCore(detected: "Prescott", features: Self.haswell.union([.avx512f, .avx512cd]))
                == "Haswell")
    }

    /// The test process runs the kernel the programs would run here (its constructor chose it the same way),
    /// and that kernel computes the engine's products correctly.
    @Test func testProcessRunsTheProgramsKernel() throws {
        let choice = try #require(testProcessKernelChoice, "the test bootstrap did not run")
        #expect(BLASRuntime.configuration.contains(BLASRuntime.coreName), "\(BLASRuntime.configuration)")
        if case .user = choice {
            // The test matrix names the kernel; it must be the one running.
            #expect(BLASRuntime.coreName.lowercased() == String(cString: getenv("OPENBLAS_CORETYPE")).lowercased())
        } else {
            #expect(
                KernelAdvisor.recommendedCore(detected: BLASRuntime.coreName, features: .current) == nil,
                "the test process runs \(BLASRuntime.describe(choice)), slower than the programs' choice")
        }
        #expect(BLASRuntime.checkGEMM() == nil)
    }

    static let environment = KernelAdvisor.Environment(coreType: nil, detectedMarker: nil, rejected: [])
    static func pass() -> String? { nil }
    static func wrong() -> String? { "sgemm gave relative error 0.3" }
    static func notCalled() -> String? {
        Issue.record("the check ran although the decision did not need it")
        return nil
    }

    @Test func aUsersKernelIsKeptWhenCorrectAndRefusedWhenWrong() {
        let user = KernelAdvisor.Environment(coreType: "Haswell", detectedMarker: nil, rejected: [])
        #expect(
            KernelAdvisor.decide(
                coreOverride: nil, environment: user, running: "Haswell", features: Self.skylakeX,
                check: Self.pass) == .keep(.user("Haswell")))
        guard
            case .fail(let message) = KernelAdvisor.decide(
                coreOverride: nil, environment: user, running: "Haswell",
                features: Self.skylakeX, check: Self.wrong)
        else {
            Issue.record("a user's kernel that computes wrong results must be an error")
            return
        }
        #expect(message.contains("OPENBLAS_CORETYPE=Haswell") && message.contains("relative error 0.3"))
        // A flag or configuration value restarts with it, whatever ran before.
        #expect(
            KernelAdvisor.decide(
                coreOverride: "SkylakeX", environment: user, running: "Haswell", features: Self.skylakeX,
                check: Self.notCalled)
                == .restart(.init(coreType: "SkylakeX", detectedMarker: nil, rejected: []), reason: .userChoice))
        #expect(
            KernelAdvisor.decide(
                coreOverride: "Haswell", environment: user, running: "Haswell", features: Self.skylakeX,
                check: Self.pass) == .keep(.user("Haswell")))
    }

    @Test func aSlowKernelIsReplacedBeforeItIsChecked() {
        #expect(
            KernelAdvisor.decide(
                coreOverride: nil, environment: Self.environment, running: "Prescott", features: Self.skylakeX,
                check: Self.notCalled)
                == .restart(.init(coreType: "SkylakeX", detectedMarker: "Prescott", rejected: []), reason: .slowKernel))
        // After the restart: checked, and kept.
        let corrected = KernelAdvisor.Environment(coreType: "SkylakeX", detectedMarker: "Prescott", rejected: [])
        #expect(
            KernelAdvisor.decide(
                coreOverride: nil, environment: corrected, running: "SkylakeX", features: Self.skylakeX,
                check: Self.pass) == .keep(.corrected(from: "Prescott")))
        #expect(
            KernelAdvisor.decide(
                coreOverride: nil, environment: Self.environment, running: "Cooperlake",
                features: Self.skylakeX.union(.avx512bf16), check: Self.pass) == .keep(.detected))
    }

    /// A kernel that computes wrong results is replaced by the next family down, one restart at a time, each
    /// checked; when every family fails, nothing runs.
    @Test func wrongResultsFallBackFamilyByFamily() {
        #if arch(x86_64)
        let features = Self.skylakeX.union(.avx512bf16)
        var env = Self.environment
        var running = "Cooperlake"
        var tried: [String] = []
        while case .restart(let next, let reason) = KernelAdvisor.decide(
            coreOverride: nil, environment: env, running: running,
            features: features, check: Self.wrong)
        {
            #expect(reason == .wrongResults("sgemm gave relative error 0.3"))
            #expect(next.detectedMarker == "Cooperlake")
            tried.append(running)
            #expect(next.rejected == tried)
            env = next
            running = next.coreType!
        }
        #expect(tried == ["Cooperlake", "SkylakeX", "Haswell", "Sandybridge"])
        guard
            case .fail(let message) = KernelAdvisor.decide(
                coreOverride: nil, environment: env, running: running,
                features: features, check: Self.wrong)
        else {
            Issue.record("every family failed: nothing may run")
            return
        }
        #expect(message.contains("Cooperlake, SkylakeX, Haswell, Sandybridge, Prescott"))
        // A fallback that passes is kept, and says what was rejected.
        let fellBack = KernelAdvisor.Environment(
            coreType: "Haswell", detectedMarker: "Cooperlake", rejected: ["Cooperlake", "SkylakeX"])
        #expect(
            KernelAdvisor.decide(
                coreOverride: nil, environment: fellBack, running: "Haswell", features: features, check: Self.pass)
                == .keep(.fallback(rejected: ["Cooperlake", "SkylakeX"], detected: "Cooperlake")))
        // An AVX2 machine never falls back to AVX-512 kernels.
        #expect(
            KernelAdvisor.decide(
                coreOverride: nil, environment: Self.environment, running: "Haswell", features: Self.haswell,
                check: Self.wrong)
                == .restart(
                    .init(coreType: "Sandybridge", detectedMarker: "Haswell", rejected: ["Haswell"]),
                    reason: .wrongResults("sgemm gave relative error 0.3")))
        #endif
    }

    @Test func testedCoresCoverEveryFamilyTheProgramsCanRun() {
        #if arch(x86_64)
        #expect(
            KernelAdvisor.testedCores(detected: "Prescott", features: Self.skylakeX) == [
                "Prescott", "SkylakeX", "Haswell",
            ])
        #expect(
            KernelAdvisor.testedCores(detected: "Cooperlake", features: Self.skylakeX.union(.avx512bf16))
                == ["Cooperlake", "SkylakeX", "Haswell"])
        #expect(KernelAdvisor.testedCores(detected: "Haswell", features: Self.haswell) == ["Haswell"])
        #endif
    }

    /// The engine's own loops must run the vector build the CPU supports. (They once named exact CPU models,
    /// so every other CPU, including this one under its hypervisor, silently ran the SSE2 baseline.)
    @Test func engineLoopsUseTheCPUsVectorUnit() {
        #if arch(x86_64)
        if CPUFeatures.current.isSuperset(of: [.avx2, .fma]) {
            #expect(EngineLoops.fusedMultiplyAdd, "AVX2+FMA CPU left on the SSE2 build: \(EngineLoops.description)")
            #expect(EngineLoops.description.contains("x86-64-v"))
        } else {
            #expect(!EngineLoops.fusedMultiplyAdd)
        }
        #else
        #expect(!EngineLoops.description.isEmpty)
        #endif
    }
}
