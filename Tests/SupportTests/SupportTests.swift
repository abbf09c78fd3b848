import Foundation
import Support
import TestSupport
import Testing

@Suite struct SupportTests {
    @Test func sha256KnownVectors() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var h = SHA256()
        h.update("ab")
        h.update("c")
        #expect(h.finalizeHex() == SHA256.hex(Array("abc".utf8)))
    }

    @Test func seededRandomIsReproducibleAndUniform() {
        var a = SeededRandom(seed: 42)
        var b = SeededRandom(seed: 42)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        var r = SeededRandom(seed: 1)
        let n = 100_000
        let mean = (0..<n).reduce(0.0) { s, _ in s + r.nextDouble() } / Double(n)
        #expect(abs(mean - 0.5) < 0.01)
        let perm = r.permutation(50)
        #expect(perm.sorted() == Array(0..<50))
        #expect(perm != Array(0..<50))
    }

    @Test func atomicWriteReplacesWholeFiles() throws {
        let temporary = TemporaryDirectory("atomic")
        let dir = temporary.path
        let path = dir + "/f.txt"
        try AtomicFile.write("one", to: path)
        try AtomicFile.write("two", to: path)
        #expect(try readFile(path) == Array("two".utf8))
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try AtomicFile.write(to: path) { append in
                try [UInt8]("partial".utf8).withUnsafeBytes { try append($0) }
                throw Boom()
            }
        }
        #expect(try readFile(path) == Array("two".utf8), "a failed write leaves the old file")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["f.txt"], "no temporary file left behind")
    }

    @Test func readFileNamesTheFile() {
        do {
            _ = try readFile("/nonexistent/x.jpg")
            Issue.record("no error")
        } catch {
            #expect(error.description == "/nonexistent/x.jpg: open failed: No such file or directory")
        }
    }
}

@Suite struct CryptoTests {
    /// RFC 8032, section 7.1, test 1 (the empty message) and test 2.
    @Test func ed25519KnownAnswers() throws {
        func bytes(_ hex: String) -> [UInt8] {
            stride(from: 0, to: hex.count, by: 2).map { i in
                UInt8(
                    hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: i + 2)], radix: 16)!
            }
        }
        let cases = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
            ),
        ]
        for (secret, publicKey, message, signature) in cases {
            let key = try #require(Ed25519.PrivateKey(rawValue: bytes(secret)))
            #expect(key.publicKey.rawValue == bytes(publicKey))
            #expect(key.signature(for: bytes(message)) == bytes(signature))
            #expect(key.publicKey.isValidSignature(bytes(signature), for: bytes(message)))
            var altered = bytes(signature)
            altered[10] ^= 1
            #expect(!key.publicKey.isValidSignature(altered, for: bytes(message)))
            #expect(!key.publicKey.isValidSignature(bytes(signature), for: bytes(message) + [0]))
        }
    }

    @Test func base64RoundTripsAndRefusesGarbage() {
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.decode("Zm8=") == Array("fo".utf8))
        for n in 0..<40 {
            let data = (0..<n).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            #expect(Base64.decode(Base64.encode(data)) == data)
        }
        #expect(Base64.decode("Zm9v!mFy") == nil)
        #expect(Base64.decode("Zm9") == nil)
    }

    @Test func keyFilesSayWhatIsWrong() throws {
        let dir = "/tmp/dogdoor-keys-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o700)
        defer { for name in ["k", "k.pub", "bad"] { unlink(dir + "/" + name) }; rmdir(dir) }
        let key = try Ed25519.PrivateKey.generate()
        try AtomicFile.write(KeyFile.privateKeyText(key), to: dir + "/k", permissions: 0o600)
        try AtomicFile.write(KeyFile.publicKeyText(key.publicKey), to: dir + "/k.pub")
        #expect(try KeyFile.readPrivateKey(dir + "/k").rawValue == key.rawValue)
        #expect(try KeyFile.readPublicKey(dir + "/k.pub") == key.publicKey)
        #expect(throws: KeyFile.Error.self) { try KeyFile.readPublicKey(dir + "/k") }
        do {
            _ = try KeyFile.readPublicKey(dir + "/k")
        } catch {
            #expect(error.description.hasSuffix("/k:1: this is a private key file; a public one is needed here"))
        }
        try AtomicFile.write("DogDoor model signing key (Ed25519, public)\nnot base64!\n", to: dir + "/bad")
        do {
            _ = try KeyFile.readPublicKey(dir + "/bad")
            Issue.record("a broken key file was read")
        } catch {
            #expect(error.line == 2)
        }
    }
}
