import Foundation
import Imaging
import Support
import TestSupport
import Testing

@testable import Training
@testable import TrainingReport

/// Checks that an HTML document is well formed in the strict sense the report promises: every element
/// closed in order (void elements aside), attribute values quoted, no raw `<` or stray `&` in text, and
/// `<style>` as the only raw-text element. Returns the problems found.
private func htmlProblems(_ html: String) -> [String] {
    let voidElements: Set<String> = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr",
    ]
    let chars = Array(html.unicodeScalars)
    var stack: [String] = []
    var problems: [String] = []
    var i = 0
    func starts(_ s: String, at index: Int) -> Bool {
        let p = Array(s.unicodeScalars)
        return index + p.count <= chars.count && Array(chars[index..<index + p.count]) == p
    }
    func find(_ s: String, from index: Int) -> Int? {
        var j = index
        while j < chars.count { if starts(s, at: j) { return j }; j += 1 }
        return nil
    }
    func checkText(_ text: String) {
        // Every & starts a character reference.
        let pattern = try! NSRegularExpression(pattern: "&(?![a-zA-Z]+;|#[0-9]+;|#x[0-9a-fA-F]+;)")
        if pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil {
            problems.append("bare & in text: \(text.prefix(60))")
        }
        if text.contains(">") { problems.append("bare > in text: \(text.prefix(60))") }
    }
    var textStart = 0
    while i < chars.count {
        guard chars[i] == "<" else { i += 1; continue }
        checkText(String(String.UnicodeScalarView(chars[textStart..<i])))
        if starts("<!--", at: i) {
            guard let end = find("-->", from: i) else { problems.append("unclosed comment"); break }
            i = end + 3
        } else if starts("<!", at: i) {
            guard let end = find(">", from: i) else { problems.append("unclosed declaration"); break }
            i = end + 1
        } else if starts("</", at: i) {
            guard let end = find(">", from: i) else { problems.append("unclosed end tag"); break }
            let name = String(String.UnicodeScalarView(chars[(i + 2)..<end])).lowercased()
            if stack.last == name {
                stack.removeLast()
            } else {
                problems.append("</\(name)> closes <\(stack.last ?? "nothing")>")
            }
            i = end + 1
        } else {
            // A start tag: name, then attributes whose values must be quoted; ends at > outside quotes.
            var j = i + 1
            var name = ""
            while j < chars.count, chars[j].properties.isAlphabetic || ("0"..."9").contains(chars[j]) {
                name.unicodeScalars.append(chars[j]); j += 1
            }
            guard !name.isEmpty else { problems.append("raw < in text at \(i)"); i += 1; textStart = i; continue }
            var quote: Unicode.Scalar?
            var selfClosing = false
            var afterEquals = false
            while j < chars.count {
                let c = chars[j]
                if let q = quote {
                    if c == q { quote = nil }
                    if c == "<" { problems.append("< inside attribute of <\(name)>") }
                } else if c == "\"" || c == "'" {
                    quote = c
                    afterEquals = false
                } else if afterEquals, c != " " {
                    problems.append("unquoted attribute value in <\(name)>")
                    afterEquals = false
                } else if c == "=" {
                    afterEquals = true
                } else if c == ">" {
                    selfClosing = j > 0 && chars[j - 1] == "/"
                    break
                }
                j += 1
            }
            guard j < chars.count else { problems.append("unclosed <\(name)>"); break }
            name = name.lowercased()
            i = j + 1
            if name == "style" {
                guard let end = find("</style>", from: i) else { problems.append("unclosed <style>"); break }
                i = end + "</style>".count
            } else if name == "script" {
                problems.append("script element")
            } else if !selfClosing && !voidElements.contains(name) {
                stack.append(name)
            }
        }
        textStart = i
    }
    if !stack.isEmpty { problems.append("unclosed elements: \(stack)") }
    return problems
}

/// The text content of the element with `id`, tags removed and entities of the escaper decoded.
private func elementText(_ html: String, id: String) -> String? {
    guard let idRange = html.range(of: "id=\"\(id)\"") else { return nil }
    guard let open = html[idRange.upperBound...].firstIndex(of: ">") else { return nil }
    guard let close = html[open...].range(of: "</") else { return nil }
    return unescape(String(html[html.index(after: open)..<close.lowerBound]))
}

private func unescape(_ text: String) -> String {
    text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
        .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
        .replacingOccurrences(of: "&amp;", with: "&")
}

/// Numbers that must never reach the page.
private func nonFiniteTokens(_ html: String) -> Int {
    let pattern = try! NSRegularExpression(pattern: "\\b(nan|-?inf(inity)?)\\b", options: [.caseInsensitive])
    return pattern.numberOfMatches(in: html, range: NSRange(html.startIndex..., in: html))
}

/// A small JPEG of a made-up scene: a sky-to-grass gradient with a blob, warm (0) or cool (1).
private func syntheticThumbnail(hue: Int, side: Int = 96) throws -> [UInt8] {
    var samples: [UInt8] = []
    samples.reserveCapacity(side * side * 3)
    for y in 0..<side {
        for x in 0..<side {
            let dx = Double(x - side / 2), dy = Double(y - side * 3 / 5)
            let inBlob = dx * dx / 900 + dy * dy / 400 < 1
            let t = Double(y) / Double(side)
            let background = t < 0.55 ? (150 + 60 * t, 190 + 40 * t, 235.0) : (90, 150 - 40 * t, 70.0)
            let blob = hue == 0 ? (170.0, 110.0, 60.0) : (70.0, 70.0, 80.0)
            let c = inBlob ? blob : background
            samples += [UInt8(c.0), UInt8(c.1), UInt8(c.2)]
        }
    }
    return try JPEGEncoder.encode(
        samples: samples, width: side, height: side, components: 3,
        options: JPEGEncodeOptions(quality: 80))
}

/// A plausible run: 20 frozen epochs, 5 fine-tune epochs, 10 dog images and 20 others in validation.
private func sampleReport(thumbnails: Bool = true) throws -> TrainingReport {
    var random = SeededRandom(seed: 11)
    var epochs: [EpochRecord] = []
    for epoch in 1...20 {
        let t = Double(epoch)
        epochs.append(
            EpochRecord(
                phase: "frozen", epoch: epoch, loss: 0.65 * exp(-t / 6) + 0.12 + random.uniform(0, 0.04),
                accuracy: min(0.97, 0.6 + 0.3 * (1 - exp(-t / 4)) + random.uniform(0, 0.05)),
                validationLoss: 0.6 * exp(-t / 7) + 0.18 + random.uniform(0, 0.05),
                validationAccuracy: min(1, 0.63 + 0.25 * (1 - exp(-t / 5)) + random.uniform(0, 0.04)),
                seconds: 41 + random.uniform(0, 4)))
    }
    for epoch in 1...5 {
        let t = Double(epoch)
        epochs.append(
            EpochRecord(
                phase: "fine-tune", epoch: epoch, loss: 0.15 - 0.02 * t + random.uniform(0, 0.02),
                accuracy: 0.95 + 0.008 * t, validationLoss: 0.2 - 0.015 * t,
                validationAccuracy: 0.9 + 0.01 * t, seconds: 140 + random.uniform(0, 9)))
    }
    let names = [
        "bo_garden.jpg", "bo & friend <2>.jpg", "bo-sofa.png", "IMG_2041.JPG", "bo_\"snow\".jpg",
        "bo7.jpg", "bo8.jpg", "bo9.jpg", "bo10.jpg", "bo11.jpg",
    ]
    // Fixed logits, so that every number the report shows can be worked out by hand (numbersShownMatchTheMetrics).
    // Bo: one false reject (-0.9), nine above every other animal. Others: one false accept (1.4), two between
    // -0.9 and 0, seventeen below -0.9.
    let boLogits = [2.1, -0.9, 3.5, 1.8, 4.2, 2.7, 5.0, 1.5, 3.1, 2.2]
    let otherLogits = [
        1.4, -0.5, -0.4, -1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -6.5,
        -1.5, -2.5, -3.5, -4.5, -5.5, -0.95, -1.2, -2.2, -3.3, -6.9,
    ]
    var validation = zip(names, boLogits).map { name, logit in
        ScoredImage(path: "data/validation/bo/\(name)", isPositive: true, logit: logit)
    }
    for (index, logit) in otherLogits.enumerated() {
        validation.append(
            ScoredImage(path: "data/validation/not_bo/other-\(index).jpg", isPositive: false, logit: logit))
    }
    let calibration = Calibration.fixed(threshold: 0.5, scores: validation)
    var thumbs: [String: [UInt8]] = [:]
    if thumbnails {
        for image in TrainingReport.misclassified(validation, threshold: 0.5) {
            thumbs[image.path] = try syntheticThumbnail(hue: image.isPositive ? 0 : 1)
        }
    }
    return TrainingReport(
        positiveClass: "bo", negativeClass: "not_bo",
        settings: [
            ("data", "data/"), ("epochs", "20 + 5 fine-tune"), ("learning rate", "0.001"),
            ("note", "<script>alert('x')</script> & more"),
        ],
        epochs: epochs, validation: validation, calibration: calibration,
        summary: TrainingReport.Summary(
            classes: [
                .init(name: "bo", training: 30, validation: 10), .init(name: "not_bo", training: 60, validation: 20),
            ],
            skipped: [
                SkippedFile(path: "data/train/bo/<broken>.jpg", reason: "not a JPEG, PNG or WebP file"),
                SkippedFile(path: "data/train/not_bo/cat.gif", reason: "unsupported format \"GIF\""),
            ],
            phaseTimes: [.init(phase: "frozen", seconds: 842), .init(phase: "fine-tune", seconds: 731)],
            modelPath: "models/bo.safetensors", modelSHA256: String(repeating: "ab12", count: 16),
            finishedAt: "2025-06-01 14:02 UTC"),
        thumbnails: thumbs)
}

@Suite struct ReportTests {
    @Test func base64MatchesRFC4648() {
        let vectors = [
            "": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=",
            "foobar": "Zm9vYmFy",
        ]
        for (plain, encoded) in vectors { #expect(ReportText.base64(Array(plain.utf8)) == encoded) }
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        #expect(ReportText.base64(bytes) == Data(bytes).base64EncodedString())
    }

    @Test func wellFormednessCheckCatchesMistakes() {
        #expect(htmlProblems("<p><b>x</p></b>").count == 2)
        #expect(htmlProblems("<div>a & b</div>") != [])
        #expect(htmlProblems("<div>a < b</div>") != [])
        #expect(htmlProblems("<div class=x>a</div>") != [])
        #expect(htmlProblems("<div>") != [])
        #expect(htmlProblems("<img src=\"a\" alt=\"b\"><br><svg><line x1=\"0\"/></svg>") == [])
        #expect(htmlProblems("<p>&amp; &lt; &#39; &#x1F415;</p>") == [])
    }

    @Test func escapingCoversMarkupAndQuotes() {
        #expect(ReportText.escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;")
        #expect(ReportText.escape("tab\there\u{1}") == "tab\there\u{FFFD}")
        #expect(ReportText.escape("Bö 🐕") == "Bö 🐕")
    }

    @Test func sampleReportIsWellFormedAndEscaped() throws {
        let report = try sampleReport()
        let html = report.html()
        #expect(htmlProblems(html) == [])
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.contains("<script"), "the settings value is text, not markup")
        // Settings values may be paths: a line may break after each "/".
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/<wbr>script&gt; &amp; more"))
        #expect(html.contains("bo &amp; friend &lt;2&gt;.jpg"))
        #expect(!html.contains("bo & friend <2>.jpg"))
        #expect(html.contains("data/<wbr>train/<wbr>bo/<wbr>&lt;broken&gt;.jpg"))
        #expect(html.contains("unsupported format &quot;GIF&quot;"))
        // Self-contained: nothing fetched from elsewhere.
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("src=\"/"))
        #expect(nonFiniteTokens(html) == 0)
    }

    @Test func everyMisclassifiedImageAppearsWithItsThumbnail() throws {
        let report = try sampleReport()
        let html = report.html()
        let wrong = report.misclassified
        #expect(wrong.count == 2, "one negative at logit 1.4, one dog image at -0.9")
        #expect(wrong.map(\.isPositive) == [false, true], "false accepts first")
        for image in wrong {
            #expect(html.contains(ReportText.escape(baseName(of: image.path))))
            let data = "data:image/jpeg;base64," + ReportText.base64(report.thumbnails[image.path]!)
            #expect(html.contains(data))
        }
        #expect(html.components(separatedBy: "<figure class=\"thumb\">").count - 1 == wrong.count)
        #expect(html.contains("false accept") && html.contains("false reject"))
        // Correctly decided images are not in the gallery.
        #expect(!html.contains("bo_garden.jpg"))

        var bare = report
        bare.thumbnails = [:]
        let placeholders = bare.html().components(separatedBy: "class=\"noimg\"").count - 1
        #expect(placeholders == wrong.count)
        // Bytes that are not an image are not embedded.
        bare.thumbnails = [wrong[0].path: Array("<svg onload=x>".utf8)]
        #expect(!bare.html().contains("data:"))
    }

    @Test func numbersShownMatchTheMetrics() throws {
        let report = try sampleReport()
        let html = report.html()
        // Worked out by hand from the sample's logits (threshold 0.5 is logit 0): 9 of 10 Bo admitted, 19 of 20
        // others kept out, so 28 of 30 right. ROC AUC: of the 200 (Bo, other) pairs, the nine Bo images above
        // 1.4 rank above all 20 others (180), the one at -0.9 above the 17 others below it: 197 / 200.
        #expect(elementText(html, id: "accuracy") == "93.3%")
        #expect(elementText(html, id: "false-accepts") == "1 of 20")
        #expect(elementText(html, id: "false-rejects") == "1 of 10")
        #expect(elementText(html, id: "threshold") == "0.500")
        #expect(elementText(html, id: "auc") == "0.985")
        #expect(elementText(html, id: "cm-true-accepts") == "9")
        #expect(elementText(html, id: "cm-false-rejects") == "1")
        #expect(elementText(html, id: "cm-false-accepts") == "1")
        #expect(elementText(html, id: "cm-true-rejects") == "19")
        #expect(elementText(html, id: "caveat") == report.calibration.caveat)
        #expect(html.contains("14 min 2 s") && html.contains("12 min 11 s") && html.contains("26 min 13 s"))
        // Both phases on one axis with one boundary between them.
        #expect(html.components(separatedBy: "class=\"boundary\"").count - 1 == 2, "one per curve chart")
        #expect(html.contains(">fine-tune</text>") && html.contains(">frozen</text>"))
        #expect(html.contains(ReportText.escape(String(repeating: "ab12", count: 16))))
    }

    @Test func degenerateInputsRenderWithoutNaN() throws {
        let base = try sampleReport()
        let onlyDogs = base.validation.filter(\.isPositive)
        let frozenOnly = base.epochs.filter { $0.phase == "frozen" }
        var cases: [(String, TrainingReport)] = []

        var noValidation = base
        noValidation.validation = []
        noValidation.calibration = .fixed(scores: [])
        noValidation.thumbnails = [:]
        cases.append(("no validation", noValidation))

        var oneClass = base
        oneClass.validation = onlyDogs
        oneClass.calibration = .fixed(scores: onlyDogs)
        cases.append(("one class", oneClass))

        var singleEpoch = base
        singleEpoch.epochs = [frozenOnly[0]]
        cases.append(("single epoch", singleEpoch))

        var noFineTune = base
        noFineTune.epochs = frozenOnly
        noFineTune.summary.phaseTimes = []
        cases.append(("no fine-tune", noFineTune))

        var nothing = base
        nothing.epochs = []
        nothing.settings = []
        nothing.summary = TrainingReport.Summary()
        cases.append(("no epochs, no summary", nothing))

        var diverged = base
        diverged.epochs[3].loss = .nan
        diverged.epochs[4].validationLoss = .infinity
        diverged.validation[0].logit = .nan
        diverged.validation[1].logit = 800
        diverged.validation[11].logit = -.infinity
        diverged.calibration = .fixed(scores: diverged.validation)
        cases.append(("diverged", diverged))

        var identical = base
        identical.validation = labelledScores(positives: [0, 0], negatives: [0])
        identical.calibration = .fixed(scores: identical.validation)
        cases.append(("all scores equal", identical))

        for (name, report) in cases {
            let html = report.html()
            #expect(htmlProblems(html) == [], "\(name)")
            #expect(nonFiniteTokens(html) == 0, "\(name)")
        }
        let noValidationHTML = noValidation.html()
        #expect(elementText(noValidationHTML, id: "accuracy") == "–")
        #expect(noValidationHTML.contains("Every validation image was decided correctly") == false)
        #expect(oneClass.html().contains("The ROC curve needs validation images of both classes."))
        #expect(elementText(oneClass.html(), id: "false-accepts") == "0 of 0")
        #expect(!noFineTune.html().contains("class=\"boundary\""))
        #expect(noFineTune.html().contains("14 min"), "phase times summed from the epochs: 20 x ~43 s")
        #expect(nothing.html().contains("No epochs were recorded."))
    }

    @Test func thumbnailsShowOnlyTheMistakesAtMost160PixelsWide() throws {
        let dir = TemporaryDirectory("thumbs")
        let photo = Image(width: 480, height: 320) { x, y in (UInt8(x % 256), UInt8(y % 256), 90) }
        for name in ["wrong-dog.jpg", "wrong-cat.jpg", "right.jpg"] {
            try AtomicFile.write(try JPEGEncoder.encode(photo), to: dir.file(name))
        }
        let scores = [
            ScoredImage(path: dir.file("wrong-dog.jpg"), isPositive: true, logit: -2),
            ScoredImage(path: dir.file("wrong-cat.jpg"), isPositive: false, logit: 2),
            ScoredImage(path: dir.file("right.jpg"), isPositive: true, logit: 3),
            ScoredImage(path: dir.file("gone.jpg"), isPositive: false, logit: 4),
        ]
        let thumbnails = TrainingReport.thumbnails(of: scores, threshold: 0.5)
        // The unreadable mistake has none (the gallery shows a placeholder); the right answer is not shown.
        #expect(Set(thumbnails.keys) == [dir.file("wrong-dog.jpg"), dir.file("wrong-cat.jpg")])
        for bytes in thumbnails.values {
            let image = try ImageDecoder.decode(bytes, source: "thumbnail")
            #expect(image.width == 160 && image.height == 106)
        }
    }

    @Test func writesAtomically() throws {
        let temporary = TemporaryDirectory("report")
        let directory = temporary.path
        let report = try sampleReport()
        let path = directory + "/report.html"
        try report.write(to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == report.html())
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["report.html"])
        // To look at the sample: DOGDOOR_SAMPLE_REPORT=/tmp/sample.html swift test --filter writesAtomically
        if let sample = ProcessInfo.processInfo.environment["DOGDOOR_SAMPLE_REPORT"] {
            try report.write(to: sample)
        }
    }

    @Test func tickStepsAreRound() {
        #expect(ReportTicks.step(0.13) == 0.2)
        #expect(ReportTicks.step(2.2) == 2.5)
        #expect(ReportTicks.step(2.2, integer: true) == 5)
        #expect(ReportTicks.step(0.3, integer: true) == 1)
        #expect(ReportTicks.ticks(low: -1, high: 1, step: 0.5).map(\.label) == ["-1.0", "-0.5", "0.0", "0.5", "1.0"])
        #expect(ReportTicks.ticks(low: 0, high: 10, step: 2.5).map(\.label) == ["0.0", "2.5", "5.0", "7.5", "10.0"])
        #expect(ReportTicks.ticks(low: 1, high: 25, step: 5).map(\.label) == ["5", "10", "15", "20", "25"])
    }
}

/// Numbers captured by a regular expression's groups, one array per match.
private func matches(_ pattern: String, in text: String) -> [[String]] {
    let regex = try! NSRegularExpression(pattern: pattern)
    return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { match in
        (1..<match.numberOfRanges).map { String(text[Range(match.range(at: $0), in: text)!]) }
    }
}

@Suite struct ReportIssue14Tests {
    @Test func thresholdRowsCountFalseAcceptsAndRejects() throws {
        let scores = try sampleReport().validation
        let rows = TrainingReport.thresholdRows(scores, modelThreshold: 0.5)
        #expect(rows.count == 19, "0.5 is the model's own threshold and is not listed twice")
        #expect(rows.map(\.threshold) == (1...19).map { Double($0) / 20 })
        #expect(rows.filter(\.isModel).map(\.threshold) == [0.5])
        // By hand from the sample's logits: at 0.05 (logit -2.94) ten others score above it and no Bo image
        // below; at 0.95 (logit 2.94) no other, and six Bo images (2.1, -0.9, 1.8, 2.7, 1.5, 2.2) below.
        #expect(
            rows.first?.confusion
                == ConfusionMatrix(trueAccepts: 10, falseRejects: 0, falseAccepts: 10, trueRejects: 10))
        #expect(
            rows.last?.confusion == ConfusionMatrix(trueAccepts: 4, falseRejects: 6, falseAccepts: 0, trueRejects: 20))
        // Against a direct count with the sigmoid written out.
        for row in rows {
            let admitted = scores.filter { 1 / (1 + exp(-$0.logit)) >= row.threshold }
            #expect(row.confusion.falseAccepts == admitted.count { !$0.isPositive })
            #expect(
                row.confusion.falseRejects == scores.count(where: \.isPositive) - admitted.count(where: \.isPositive))
        }
        let odd = TrainingReport.thresholdRows(scores, modelThreshold: 0.4231)
        #expect(odd.count == 20)
        #expect(odd.map(\.threshold) == odd.map(\.threshold).sorted())
        #expect(odd.filter(\.isModel).map(\.threshold) == [0.4231])
    }

    @Test func spreadIsMinMaxMeanAndSampleStandardDeviation() throws {
        let spread = try #require(TrainingReport.Spread([4, 1, .nan, 3, 2]))
        #expect(spread.count == 4 && spread.min == 1 && spread.max == 4 && spread.mean == 2.5)
        #expect(abs(spread.standardDeviation! - (5.0 / 3).squareRoot()) < 1e-12)
        #expect(TrainingReport.Spread([.nan, .infinity]) == nil)
        #expect(TrainingReport.Spread([0.7])?.standardDeviation == nil)
        #expect(TrainingReport.Spread([0.8, 0.8, 0.8])?.standardDeviation == 0, "not float noise")

        let report = try sampleReport()
        let phases = TrainingReport.phaseSpreads(report.epochs)
        #expect(phases.map(\.phase) == ["frozen", "fine-tune"])
        #expect(phases.map(\.epochs) == [20, 5])
        // Fine-tune validation accuracy is 0.9 + 0.01 t for t = 1...5.
        let fineTune = try #require(phases[1].accuracy)
        #expect(
            abs(fineTune.min - 0.91) < 1e-12 && abs(fineTune.max - 0.95) < 1e-12 && abs(fineTune.mean - 0.93) < 1e-12)
        let html = report.html()
        #expect(html.contains("Spread over epochs"))
        #expect(html.contains("<td class=\"num\">91%</td><td class=\"num\">95%</td><td class=\"num\">93%</td>"))
    }

    @Test func verdictRefusesAModelAboveTheTarget() throws {
        var report = try sampleReport()
        report.calibrateCommand = "dogdoor-train --data 'my photos' --max-false-accept 0 <&>"
        let html = report.html()
        #expect(!report.isFitToDeploy)
        #expect(elementText(html, id: "verdict") == "Do not deploy this model")
        #expect(html.contains("<strong>1 of 20 not_bo images are admitted</strong> (5%); the target is at most 0%"))
        #expect(
            html.contains("<code>dogdoor-train --data &#39;my photos&#39; --max-false-accept 0 &lt;&amp;&gt;</code>"))
        // The verdict comes before the headline numbers.
        let verdict = try #require(html.range(of: "id=\"verdict\""))
        let cards = try #require(html.range(of: "class=\"cards\""))
        #expect(verdict.lowerBound < cards.lowerBound)

        report.targetFalseAcceptRate = 0.05
        let fit = report.html()
        #expect(report.isFitToDeploy)
        #expect(elementText(fit, id: "verdict") == "Fit to deploy on this evidence")
        #expect(fit.contains("evidence from 30 validation images (10 bo, 20 not_bo)"))
        #expect(elementText(fit, id: "caveat") == report.calibration.caveat)
        #expect(!fit.contains("Do not deploy"))
        #expect(!fit.contains("slow to admit"), "most bo images are admitted here")

        // Safe but refusing most of the dog's images: said in the headline, with the count.
        let strict = Calibration.fixed(threshold: 0.999_999, scores: report.validation)
        #expect(strict.confusion.falseAccepts == 0 && 2 * strict.confusion.falseRejects > strict.confusion.positives)
        var slow = report
        slow.calibration = strict
        let slowPage = slow.html()
        #expect(slow.isFitToDeploy)
        #expect(elementText(slowPage, id: "verdict") == "Safe to deploy, but slow to admit bo")
        #expect(slowPage.contains("<strong>\(strict.confusion.falseRejects) of 10 bo images are refused</strong>"))

        // With no other animals validated, nothing supports deploying.
        report.validation = report.validation.filter(\.isPositive)
        report.calibration = .fixed(scores: report.validation)
        #expect(!report.isFitToDeploy)
        #expect(elementText(report.html(), id: "verdict") == "Do not deploy this model")
    }

    @Test func refuseAdmitLabelsStayOutOfTheBars() throws {
        // Six positives in the bin just right of the threshold: the tallest bar reaches the top of the plot
        // exactly where the labels used to be drawn.
        let scores =
            (0..<6).map { ScoredImage(path: "p\($0)", isPositive: true, logit: 0.1) }
            + [-3.0, -2.0, -1.0].map { ScoredImage(path: "n\($0)", isPositive: false, logit: $0) }
        let svg = try #require(
            ReportCharts.histogram(scores, threshold: 0.5, positiveClass: "bo", negativeClass: "not_bo"))
        let bars = matches("<rect class=\"(?:pos|neg)-bar\" x=\"[-0-9.]+\" y=\"([-0-9.]+)\" width", in: svg)
            .map { Double($0[0])! }
        #expect(bars.count == 4)
        let labels = matches(
            "<text class=\"mark-label\" x=\"[-0-9.]+\" y=\"([-0-9.]+)\"[^>]*>(← refuse|admit →)</text>", in: svg)
        #expect(labels.map { $0[1] } == ["← refuse", "admit →"])
        for label in labels {
            // The text's baseline is its lowest point: above the top of every bar.
            let y = Double(label[0])!
            for top in bars { #expect(y < top, "label at y \(y) over a bar from y \(top)") }
        }
        let tallest = try #require(bars.min())
        #expect(labels.allSatisfy { Double($0[0])! < tallest })
    }

    @Test func aDivergedFirstEpochDoesNotSquashTheLossAxis() throws {
        let range = ReportCharts.lossRange([50, 0.7, 0.6, 0.5])
        #expect(range.high < 5 && range.high >= 0.7)
        #expect(range.low == 0)
        let epochs = [50, 0.7, 0.6, 0.5].enumerated().map { index, loss in
            EpochRecord(
                phase: "frozen", epoch: index + 1, loss: loss, accuracy: 0.8, validationLoss: min(loss, 0.65),
                validationAccuracy: 0.8, seconds: 1)
        }
        let svg = ReportCharts.epochChart(epochs, metric: .loss)
        #expect(svg.components(separatedBy: "<g class=\"clipped train-clip\">").count - 1 == 1)
        #expect(svg.contains(">↑ 50.0</text>"))
        #expect(!svg.contains("val-clip"))
        // An ordinary run keeps every point on the axis, with nothing marked.
        let ordinary = try sampleReport().epochs
        let values = ordinary.flatMap { [$0.loss, $0.validationLoss] }
        #expect(ReportCharts.lossRange(values).high >= values.max()!)
        #expect(!ReportCharts.epochChart(ordinary, metric: .loss).contains("clipped"))
        // Losses of a few units with no outlier are not clipped either.
        #expect(ReportCharts.lossRange([3.2, 2.9, 2.5, 2.4]).high >= 3.2)
    }

    @Test func rocAxesNameTheClasses() throws {
        let html = try sampleReport().html()
        #expect(html.contains(">bo admitted (true accept rate)</text>"))
        #expect(html.contains(">not_bo admitted (false accept rate)</text>"))
        #expect(!html.contains("dog admitted"))
    }

    @Test func thumbnailsKeepTheirShapeAndOpenThePhoto() throws {
        var report = try sampleReport()
        report.workingDirectory = "/home/owner/dog door"
        let html = report.html()
        #expect(report.misclassified.count == 2)
        for url in [
            "file:///home/owner/dog%20door/data/validation/not_bo/other-0.jpg",
            "file:///home/owner/dog%20door/data/validation/bo/bo%20%26%20friend%20%3C2%3E.jpg",
        ] {
            #expect(html.contains("<a href=\"\(url)\" target=\"_blank\" rel=\"noopener\""), "\(url)")
        }
        #expect(html.contains("object-fit:contain") && !html.contains("object-fit:cover"))
        #expect(
            ReportText.fileURL("bo & friend <2>#1?.jpg", relativeTo: "/d/")
                == "file:///d/bo%20%26%20friend%20%3C2%3E%231%3F.jpg")
        #expect(
            ReportText.fileURL("/photos/Bö 🐕.jpg", relativeTo: "/ignored")
                == "file:///photos/B%C3%B6%20%F0%9F%90%95.jpg")
        #expect(ReportText.fileURL("a.jpg", relativeTo: "") == "file:///a.jpg")
    }

    @Test func pathsBreakOnlyAfterSlashes() throws {
        #expect(ReportText.path("data/train/<bo>/a b.jpg") == "data/<wbr>train/<wbr>&lt;bo&gt;/<wbr>a b.jpg")
        #expect(ReportText.path("/abs/x") == "/<wbr>abs/<wbr>x")
        let html = try sampleReport().html()
        #expect(html.contains("<td class=\"path-cell\">data/<wbr>train/<wbr>bo/<wbr>&lt;broken&gt;.jpg</td>"))
        #expect(html.contains("<div class=\"path\">data/<wbr>validation/<wbr>not_bo/<wbr>other-0.jpg</div>"))
        #expect(html.contains("models/<wbr>bo.safetensors"))
        #expect(html.contains(".path,.path-cell,code,.facts dd{overflow-wrap:normal;word-break:normal}"))
        // Only a hash may break anywhere.
        #expect(matches("([.a-z-]+)\\{[^}]*overflow-wrap:anywhere", in: ReportStyle.css).map { $0[0] } == ["code.hash"])
        #expect(!ReportStyle.css.contains("break-all"))
    }

    @Test func commandLinesAreQuotedForTheShell() {
        #expect(
            shellQuoted(["dogdoor-train", "--data", "my photos/", "--note", "it's", "", "a=b,c:d/e.f"])
                == "dogdoor-train --data 'my photos/' --note 'it'\\''s' '' a=b,c:d/e.f")
        for risky in ["$HOME", "a;b", "*.jpg", "x|y", "~", "Bö", "a\"b", "(x)"] {
            #expect(shellQuoted([risky]) == "'\(risky)'", "\(risky)")
        }
    }

    @Test func runMetadataSelectionAndDoorMeasuresAreShown() throws {
        var report = try sampleReport()
        #expect(!report.html().contains("At the door"))
        #expect(!report.html().contains("id=\"selection\""))
        report.metadata = TrainingReport.RunMetadata(
            date: "2026-12-04T09:15:02Z", version: "1.4.0",
            commandLine: ["dogdoor-train", "--data", "/home/o/my photos", "--positive", "bo"])
        report.selection = "weights averaged over epochs 6–10 of phase 2; no epoch chosen on validation data"
        report.doorMeasures = [("visits admitted", "41 of 42"), ("other animals admitted", "0 of 17 <visits>")]
        let html = report.html()
        #expect(htmlProblems(html) == [])
        #expect(html.contains("<dt>date</dt><dd>2026-12-04T09:15:02Z</dd>"))
        #expect(html.contains("<dt>DogDoor</dt><dd>1.4.0</dd>"))
        #expect(html.contains("dogdoor-train --data &#39;/<wbr>home/<wbr>o/<wbr>my photos&#39; --positive bo"))
        #expect(html.contains("training 30 bo, 60 not_bo; validation 10 bo, 20 not_bo; 2 files skipped"))
        #expect(html.contains("<li class=\"path-cell\">data/<wbr></li>"), "the folder rows of the settings")
        #expect(elementText(html, id: "training-count") == "90" && elementText(html, id: "validation-count") == "30")
        #expect(elementText(html, id: "selection") == report.selection)
        #expect(html.contains("<h2>At the door</h2>"))
        #expect(html.contains("<th scope=\"row\">other animals admitted</th><td>0 of 17 &lt;visits&gt;</td>"))
        // The selection sits under the epoch charts, before the validation scores.
        let selection = try #require(html.range(of: "id=\"selection\""))
        let scores = try #require(html.range(of: "<h2>Validation scores</h2>"))
        #expect(selection.lowerBound < scores.lowerBound)
    }

    @Test func userTextIsEscapedEverywhere() throws {
        let hostile = "<b>&\"x"
        var report = try sampleReport()
        report.positiveClass = hostile
        report.summary.classes[0].name = hostile
        report.validation = report.validation.map { image in
            var image = image
            image.path = image.path.replacingOccurrences(of: "/bo/", with: "/\(hostile)/")
            return image
        }
        report.thumbnails = [:]
        report.metadata = .init(date: hostile, version: hostile, commandLine: [hostile])
        report.selection = hostile
        report.doorMeasures = [(hostile, hostile)]
        report.calibrateCommand = hostile
        report.workingDirectory = "/\(hostile)"
        let html = report.html()
        #expect(htmlProblems(html) == [])
        #expect(!html.contains(hostile))
        #expect(html.contains("&lt;b&gt;&amp;&quot;x admitted (true accept rate)"))
        #expect(html.contains("href=\"file:///%3Cb%3E%26%22x/data/validation/%3Cb%3E%26%22x/bo%20%26%20friend"))
        #expect(nonFiniteTokens(html) == 0)
    }
}
