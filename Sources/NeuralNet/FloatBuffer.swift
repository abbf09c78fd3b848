#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A fixed-size, 64-byte aligned, owned array of `Float` for tensors and scratch space.
///
/// A class, so that big buffers are never copied by accident; reference semantics are what kernels
/// writing in place expect.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// Allocates `count` floats, zero-filled.
    public init(count: Int) {
        precondition(count >= 0, "negative buffer size")
        self.count = count
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else { fatalError("out of memory allocating \(bytes) bytes") }
        memset(raw, 0, bytes)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// A zero-filled copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit { free(pointer) }

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
