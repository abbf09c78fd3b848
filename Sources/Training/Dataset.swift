import Support

/// One image file and its class.
public struct LabelledFile: Sendable, Equatable {
    public var path: String
    public var className: String
    public var isPositive: Bool

    public init(path: String, className: String, isPositive: Bool) {
        self.path = path
        self.className = className
        self.isPositive = isPositive
    }
}

/// Why a data directory cannot be used.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One data folder of a training run and the files it gave, by split and class (before decoding).
public struct DatasetSource: Sendable, Equatable {
    public var directory: String
    public var trainPositive: Int
    public var trainNegative: Int
    public var validPositive: Int
    public var validNegative: Int

    init(directory: String, training: [LabelledFile], validation: [LabelledFile]) {
        self.directory = directory
        trainPositive = training.count { $0.isPositive }
        trainNegative = training.count - trainPositive
        validPositive = validation.count { $0.isPositive }
        validNegative = validation.count - validPositive
    }

    /// `photos: 18 bo / 120 not_bo training, 10 / 20 validation`.
    public func summary(positive: String, negative: String) -> String {
        "\(trainPositive) \(positive) / \(trainNegative) \(negative) training, \(validPositive) / \(validNegative) validation"
    }
}

/// The training and validation files of a data directory, in Keras `flow_from_directory` order.
///
/// Layouts:
/// - `DIR/train/<class>/...` and `DIR/valid/<class>/...` (also `validation/` or `val/` for the second);
/// - one folder `DIR/<class>/...` with a validation split: the first `split` fraction of each class's sorted
///   files validates, the rest trains (Keras's `subset="validation"` takes the same first fraction).
/// Class folders are sorted by name; files are found recursively, directories in sorted order and files sorted
/// within each (byte order), as Keras walks them. Files are not filtered by extension: the image decoder
/// recognises formats by content, and whatever it cannot read is reported and skipped later.
public struct DatasetLayout: Sendable, Equatable {
    public var positiveClass: String
    public var negativeClass: String
    public var training: [LabelledFile]
    public var validation: [LabelledFile]
    /// Entries that are not used, with why: symbolic links that lead out of the data folder (or nowhere),
    /// and devices, FIFOs and sockets (which a reader could hang on or read without end).
    public var skipped: [SkippedFile] = []
    /// The data folders the files came from, with what each gave.
    public var sources: [DatasetSource] = []

    public init(
        positiveClass: String, negativeClass: String, training: [LabelledFile], validation: [LabelledFile],
        skipped: [SkippedFile] = [], sources: [DatasetSource] = []
    ) {
        self.positiveClass = positiveClass
        self.negativeClass = negativeClass
        self.training = training
        self.validation = validation
        self.skipped = skipped
        self.sources = sources
    }

    /// Finds the files under each of `directories` (the owner's photos, the door's labelled photos, ...) and
    /// merges them, folder after folder. Every folder must have the same two classes.
    public static func discover(
        directories: [String], positive: String, validationSplit: Double? = nil
    ) throws(DatasetError) -> DatasetLayout {
        guard let first = directories.first else { throw DatasetError("no data folder given") }
        var merged = try discover(directory: first, positive: positive, validationSplit: validationSplit)
        for directory in directories.dropFirst() {
            let next = try discover(directory: directory, positive: positive, validationSplit: validationSplit)
            guard next.negativeClass == merged.negativeClass else {
                throw DatasetError(
                    "\(directory): the other class is \(next.negativeClass), but \(first) calls it \(merged.negativeClass); "
                        + "every data folder needs the same two class folders")
            }
            merged.training += next.training
            merged.validation += next.validation
            merged.skipped += next.skipped
            merged.sources += next.sources
        }
        return merged
    }

    /// Finds the files under `directory`. `positive` names the class to admit.
    public static func discover(
        directory: String, positive: String, validationSplit: Double? = nil
    ) throws(DatasetError) -> DatasetLayout {
        guard isDirectory(directory) else { throw DatasetError("\(directory): not a directory") }
        let trainDir = directory + "/train"
        let validDir = ["valid", "validation", "val"].map { directory + "/" + $0 }.first(where: isDirectory)
        if let validationSplit {
            guard validationSplit > 0, validationSplit < 1 else {
                throw DatasetError("--validation-split must be between 0 and 1, got \(validationSplit)")
            }
            let classes = try classFolders(directory)
            let (pos, neg) = try pick(positive, from: classes, in: directory)
            var training: [LabelledFile] = []
            var validation: [LabelledFile] = []
            var skipped: [SkippedFile] = []
            for name in [pos, neg].sorted(by: byteOrder) {
                let found = try imageFiles(under: directory + "/" + name, within: directory)
                skipped += found.skipped
                let cut = Int(validationSplit * Double(found.files.count))
                let labelled = found.files.map { LabelledFile(path: $0, className: name, isPositive: name == pos) }
                validation += labelled[..<cut]
                training += labelled[cut...]
            }
            return DatasetLayout(
                positiveClass: pos, negativeClass: neg, training: training, validation: validation, skipped: skipped,
                sources: [DatasetSource(directory: directory, training: training, validation: validation)])
        }
        guard isDirectory(trainDir) else {
            throw DatasetError(
                "\(directory): expected train/<class>/ and valid/<class>/ folders (or use --validation-split with <class>/ folders)"
            )
        }
        guard let validDir else { throw DatasetError("\(directory): has train/ but no valid/ (or validation/) folder") }
        let trainClasses = try classFolders(trainDir)
        let validClasses = try classFolders(validDir)
        guard trainClasses == validClasses else {
            throw DatasetError(
                "class folders differ: \(trainDir) has \(trainClasses.joined(separator: ", ")); \(validDir) has \(validClasses.joined(separator: ", "))"
            )
        }
        let (pos, neg) = try pick(positive, from: trainClasses, in: trainDir)
        var skipped: [SkippedFile] = []
        func files(_ root: String) throws(DatasetError) -> [LabelledFile] {
            var out: [LabelledFile] = []
            for name in trainClasses {
                let found = try imageFiles(under: root + "/" + name, within: directory)
                skipped += found.skipped
                out += found.files.map { LabelledFile(path: $0, className: name, isPositive: name == pos) }
            }
            return out
        }
        let training = try files(trainDir), validation = try files(validDir)
        return DatasetLayout(
            positiveClass: pos, negativeClass: neg, training: training, validation: validation, skipped: skipped,
            sources: [DatasetSource(directory: directory, training: training, validation: validation)])
    }

    private static func pick(
        _ positive: String, from classes: [String], in directory: String
    ) throws(DatasetError) -> (String, String) {
        guard classes.count == 2 else {
            throw DatasetError(
                "\(directory): found \(classes.count) class folders (\(classes.joined(separator: ", "))); exactly two are needed: the dog to admit and everything else"
            )
        }
        guard classes.contains(positive) else {
            throw DatasetError(
                "--positive \(positive) is not one of the class folders in \(directory) (\(classes.joined(separator: ", ")))"
            )
        }
        return (positive, classes.first { $0 != positive }!)
    }

    /// Sorted names of the sub-directories of `directory` (hidden ones ignored).
    static func classFolders(_ directory: String) throws(DatasetError) -> [String] {
        try entries(directory).filter { !$0.hasPrefix(".") && isDirectory(directory + "/" + $0) }.sorted(by: byteOrder)
    }

    /// Regular files under `root`, recursively: directories in sorted order, files sorted within each.
    /// Hidden files and folders (names starting with ".") are skipped, as file managers leave them behind.
    public static func imageFiles(under root: String) throws(DatasetError) -> [String] {
        try imageFiles(under: root, within: root).files
    }

    /// The same, with what was left out and why. A symbolic link is followed only when it leads to a place
    /// inside `boundary` (the data folder): a photo set must not be able to make the trainer read
    /// `/etc/shadow` or `/dev/zero`. Devices, FIFOs and sockets are left out too.
    public static func imageFiles(
        under root: String, within boundary: String
    ) throws(DatasetError)
        -> (files: [String], skipped: [SkippedFile])
    {
        var result: [String] = []
        var skipped: [SkippedFile] = []
        var visited = Set<String>()
        let inside = realPath(boundary).map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        func walk(_ dir: String) throws(DatasetError) {
            guard visited.insert(realPath(dir) ?? dir).inserted else { return }  // symlink loops
            let names = try entries(dir).filter { !$0.hasPrefix(".") }.sorted(by: byteOrder)
            var subdirectories: [String] = []
            for name in names {
                let path = dir + "/" + name
                var link = stat()
                guard lstat(path, &link) == 0 else {
                    skipped.append(
                        SkippedFile(path: path, reason: "cannot be examined: \(SystemError("lstat").reason)"))
                    continue
                }
                if (link.st_mode & S_IFMT) == S_IFLNK {
                    guard let target = realPath(path) else {
                        skipped.append(SkippedFile(path: path, reason: "a symbolic link to nothing"))
                        continue
                    }
                    guard let inside, target.hasPrefix(inside) else {
                        skipped.append(
                            SkippedFile(path: path, reason: "a symbolic link to \(target), outside the data folder"))
                        continue
                    }
                }
                if isDirectory(path) {
                    subdirectories.append(path)
                } else if isRegularFile(path) {
                    result.append(path)
                } else {
                    skipped.append(SkippedFile(path: path, reason: "not a regular file (a device, FIFO or socket)"))
                }
            }
            for sub in subdirectories { try walk(sub) }
        }
        try walk(root)
        return (result, skipped)
    }

    private static func entries(_ directory: String) throws(DatasetError) -> [String] {
        do {
            return try directoryEntries(directory)
        } catch {
            throw DatasetError("\(directory): cannot read directory: \(error.reason)")
        }
    }

    static func byteOrder(_ a: String, _ b: String) -> Bool { Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) }
}

func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

func isRegularFile(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
}

func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}
