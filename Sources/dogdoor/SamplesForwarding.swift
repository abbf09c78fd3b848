import ArgumentParser
import CommandSupport
import Support

/// `dogdoor samples ...` runs `dogdoor-samples ...` from the same folder as this program (the drawing code is a
/// product of its own; see Sources/dogdoor-samples).
struct SamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "samples",
        abstract:
            "Generate sample photos of Bo and of other animals (runs dogdoor-samples; see `dogdoor-samples --help`).")

    @Argument(parsing: .captureForPassthrough, help: "Arguments for dogdoor-samples, e.g. `dataset --output DIR`.")
    var arguments: [String] = []

    func run() throws {
        let program = parentDirectory(of: executablePath()) + "/dogdoor-samples"
        guard access(program, X_OK) == 0 else {
            throw Failure(
                "\(program) is missing: build it with `swift build -c release --product dogdoor-samples`")
        }
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        execv(program, argv)
        throw Failure("cannot run \(program): \(SystemError("exec").reason)")
    }

    /// This program's own path (`/proc/self/exe`).
    private func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
