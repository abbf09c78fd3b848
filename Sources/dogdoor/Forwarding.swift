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

    func run() throws { try forward(to: "dogdoor-samples", arguments) }
}

/// `dogdoor web ...` runs `dogdoor-web ...` (the web app is a server of its own, with its own libraries; see
/// Sources/dogdoor-web), e.g. `dogdoor web passwd owner`.
struct WebCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "The web app: `dogdoor web passwd NAME` sets a login (runs dogdoor-web; see `dogdoor-web --help`).")

    @Argument(parsing: .captureForPassthrough, help: "Arguments for dogdoor-web, e.g. `passwd owner`.")
    var arguments: [String] = []

    func run() throws { try forward(to: "dogdoor-web", arguments) }
}

/// Replaces this process with `name` from this program's folder, passing `arguments` on.
func forward(to name: String, _ arguments: [String]) throws -> Never {
    let program = parentDirectory(of: executablePath()) + "/" + name
    guard access(program, X_OK) == 0 else {
        throw Failure("\(program) is missing: build it with `swift build -c release --product \(name)`")
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
