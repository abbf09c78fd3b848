/// A failure explained in words, for the errors no caller tells apart by kind: they are reported (logged,
/// printed, written to an event), never handled differently one from another. Errors that callers or tests do
/// branch on keep their own types with their cases (`SystemError`'s errno, `ImagingError`, `ModelError`,
/// `ConfigurationError`'s file, line and key, ...).
public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
