import Foundation
import Imaging

@testable import Samples

/// Names of the regular files in `directory`, sorted, hidden files excluded.
func fileNames(in directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") }.sorted()
}

func readBytes(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw CocoaError(.fileReadNoSuchFile) }
    return [UInt8](data)
}

/// Rec. 601 luma of a pixel, 0...255.
func luma(_ p: (r: UInt8, g: UInt8, b: UInt8)) -> Double {
    0.299 * Double(p.r) + 0.587 * Double(p.g) + 0.114 * Double(p.b)
}

/// Mean absolute difference per byte of two same-sized images.
func meanAbsoluteDifference(_ a: Image, _ b: Image) -> Double {
    precondition(a.width == b.width && a.height == b.height)
    var total = 0
    for i in 0..<a.pixels.count { total += abs(Int(a.pixels[i]) - Int(b.pixels[i])) }
    return Double(total) / Double(a.pixels.count)
}
