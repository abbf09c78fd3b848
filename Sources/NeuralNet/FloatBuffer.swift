import Support

/// A fixed-size, 64-byte aligned, owned array of `Float` for tensors and scratch space, zero-filled.
///
/// A class, so that big buffers are never copied by accident; reference semantics are what kernels
/// writing in place expect. Buffers of 256 KiB and more are mapped directly from the kernel: their memory
/// goes back to the system the moment they are freed (the C heap would keep it, fragmented, in a
/// long-running daemon), and pages never written never become resident.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>
    private let mappedBytes: Int

    static let mapThreshold = 256 * 1024

    /// Allocates `count` floats, zero-filled.
    public init(count: Int) {
        precondition(count >= 0, "negative buffer size")
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if bytes >= Self.mapThreshold {
            let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let raw, raw != MAP_FAILED else { fatalError("out of memory mapping \(bytes) bytes") }
            mappedBytes = bytes
            pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        } else {
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
                fatalError("out of memory allocating \(bytes) bytes")
            }
            memset(raw, 0, bytes)
            mappedBytes = 0
            pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        }
    }

    /// A copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit {
        if mappedBytes > 0 { munmap(pointer, mappedBytes) } else { free(pointer) }
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    /// Sets every element to zero.
    public func zero() { memset(pointer, 0, count * MemoryLayout<Float>.stride) }

    /// Copies the contents into an array.
    public func toArray() -> [Float] { Array(buffer) }

    /// Copies from another buffer of at least the same size.
    public func copy(from other: UnsafePointer<Float>, count n: Int? = nil) {
        pointer.update(from: other, count: n ?? count)
    }
}
