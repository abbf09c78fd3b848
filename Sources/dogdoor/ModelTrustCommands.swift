import ArgumentParser
import CommandSupport
import DoorConfiguration
import EngineOptions
import Logging
import NeuralNet
import Support

extension ModelCommand {
    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an Ed25519 key pair for signing model files.",
            discussion: """
                Writes the private key to --output (mode 0600; keep it with the photos and the trainer, never on \
                the door) and the public key to --output.pub. Sign models with `dogdoor-train --signing-key` or \
                `dogdoor model sign`; install the public key on the door and name it in [model] public_key: the \
                daemon then refuses any model not signed by it.
                """
        )

        @Option(help: "The private key file to write (the public key goes to the same path plus .pub).")
        var output: String

        func run() throws {
            guard access(output, F_OK) != 0 else {
                throw ValidationError("\(output) exists; remove it first (a key pair is never overwritten)")
            }
            let key = try Ed25519.PrivateKey.generate()
            try AtomicFile.write(KeyFile.privateKeyText(key), to: output, permissions: 0o600)
            try AtomicFile.write(KeyFile.publicKeyText(key.publicKey), to: output + ".pub", permissions: 0o644)
            print("private key: \(output) (keep it secret)")
            print("public key:  \(output).pub (fingerprint \(key.publicKey.fingerprint))")
        }
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a model file with a private key from `dogdoor model keygen`.",
            discussion: "Verifies the model completely first. The signature covers the tensors and the whole manifest."
        )

        @Option(help: "The private key file.")
        var key: String

        @Argument(help: "The model file; it is rewritten in place unless --output is given.")
        var file: String

        @Option(help: "Write the signed model here instead.")
        var output: String?

        @OptionGroup var compute: ComputeOptions

        func run() throws {
            var logger = Logger(label: "dogdoor")
            let (threads, _) = try compute.setUp(&logger)
            let privateKey = try KeyFile.readPrivateKey(key)
            let manifest = try ModelFile.rewrite(file, to: output ?? file, threads: threads) { manifest in
                manifest.signature = ModelSignature(
                    publicKey: privateKey.publicKey, value: privateKey.signature(for: manifest.signedMessage))
            }
            print(
                "signed \(output ?? file) with key \(privateKey.publicKey.fingerprint) (manifest \(manifest.contentSHA256.prefix(16)))"
            )
        }
    }

    struct Upgrade: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite a model file of format 1 as format 2 (which checksums its manifest).",
            discussion: "Verifies the file completely (tensor checksum, self-test) first; the tensors are unchanged."
        )

        @Argument(help: "The model file; it is rewritten in place unless --output is given.")
        var file: String

        @Option(help: "Write the upgraded model here instead.")
        var output: String?

        @OptionGroup var compute: ComputeOptions

        func run() throws {
            var logger = Logger(label: "dogdoor")
            let (threads, _) = try compute.setUp(&logger)
            let manifest = try ModelFile.rewrite(file, to: output ?? file, acceptingFormat1: true, threads: threads) {
                _ in
            }
            print(
                "wrote \(output ?? file): format \(manifest.formatVersion), manifest \(manifest.contentSHA256.prefix(16))"
            )
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Verify a model against the door's trust policy and install it root-owned, read-only to the daemon.",
            discussion: """
                Checks the file as dogdoord will ([model] minimum_threshold, public_key and sha256 of the \
                configuration, then checksums and the self-test), and copies it atomically to the configured \
                [model] path, owned by root, group dogdoor, mode 0640. Then `systemctl reload dogdoord` switches \
                to it (verifying it again). Run as root.
                """
        )

        @Argument(help: "The new model file.")
        var file: String

        @Option(
            help:
                "The daemon's configuration (default: /etc/dogdoor/dogdoord.toml if it exists, else the built-in defaults)."
        )
        var config: String?

        @OptionGroup var compute: ComputeOptions

        func run() throws {
            var logger = Logger(label: "dogdoor")
            let (threads, _) = try compute.setUp(&logger)
            let path =
                config ?? (access(DaemonConfiguration.defaultPath, F_OK) == 0 ? DaemonConfiguration.defaultPath : nil)
            let configuration = try path.map { try DaemonConfiguration.load(path: $0) } ?? .defaults
            let trust = try configuration.model.trust()
            let model = try DogDoorModel(path: file, threads: threads, trust: trust)
            _ = try configuration.decisionParameters(modelThreshold: model.manifest.threshold)
            let destination = configuration.model.path
            try AtomicFile.write(try readFile(file), to: destination, permissions: 0o640)
            let group = groupID(named: "dogdoor")
            if chown(destination, 0, group ?? 0) != 0 {
                printError(
                    "warning: could not give \(destination) to root\(group == nil ? "" : ":dogdoor") (\(SystemError("chown").reason)); run as root"
                )
            }
            let signature = model.manifest.signature.map { "signed by key \($0.publicKey.fingerprint)" } ?? "unsigned"
            print(
                "installed \(destination) (admits \"\(model.manifest.positiveClass)\", threshold \(model.manifest.threshold), \(signature))"
            )
            print("now: sudo systemctl reload dogdoord")
        }
    }
}
