#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Seconds on the monotonic clock (CLOCK_MONOTONIC): for measuring durations and scheduling; never jumps.
public enum MonotonicClock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

/// CPU time this process has used (user + system), in seconds.
public func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
}

/// Resident memory of this process, from /proc/self/status.
public struct ProcessMemory: Sendable {
    /// VmRSS in bytes.
    public var resident: Int
    /// VmHWM (peak resident) in bytes.
    public var peak: Int
    /// RssAnon: resident anonymous memory (heap, stacks) in bytes.
    public var anonymous: Int = 0
    /// RssFile: resident file-backed memory (code, libraries, mapped files) in bytes.
    public var fileBacked: Int = 0

    public var residentMiB: Double { Double(resident) / 1_048_576 }
    public var peakMiB: Double { Double(peak) / 1_048_576 }

    /// Reads the current figures (zeros where /proc is unavailable).
    public static func current() -> ProcessMemory {
        guard let bytes = try? readFile("/proc/self/status", limit: 1 << 20) else {
            return ProcessMemory(resident: 0, peak: 0)
        }
        var memory = ProcessMemory(resident: 0, peak: 0)
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kib = Int(parts[1]) else { continue }
            switch parts[0] {
            case "VmRSS:": memory.resident = kib * 1024
            case "VmHWM:": memory.peak = kib * 1024
            case "RssAnon:": memory.anonymous = kib * 1024
            case "RssFile:": memory.fileBacked = kib * 1024
            default: break
            }
        }
        return memory
    }
}
