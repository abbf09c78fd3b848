import Imaging
import Support
import Training

/// The HTML training report: one self-contained page (inline CSS and SVG, images as data URIs, no
/// scripts, no external resources) that shows what a training run produced and how far to trust it.
///
/// All statistics at the operating point come from `calibration`, which must have been computed on
/// `validation`; the charts and the list of misclassified images come from `validation` itself.
public struct TrainingReport: Sendable {
    /// How many images of one class were used.
    public struct ClassCount: Sendable, Equatable {
        public var name: String
        public var training: Int
        public var validation: Int

        public init(name: String, training: Int, validation: Int) {
            self.name = name
            self.training = training
            self.validation = validation
        }
    }

    /// Wall time spent in one phase of the run ("features", "frozen", "fine-tune", ...).
    public struct PhaseTime: Sendable, Equatable {
        public var phase: String
        public var seconds: Double

        public init(phase: String, seconds: Double) {
            self.phase = phase
            self.seconds = seconds
        }
    }

    /// Facts about the run that are not metrics.
    public struct Summary: Sendable, Equatable {
        /// Images used per class.
        public var classes: [ClassCount]
        /// Files that were skipped, with reasons.
        public var skipped: [SkippedFile]
        /// Wall time per phase; when empty, the report sums the epochs' times per phase.
        public var phaseTimes: [PhaseTime]
        /// Where the model file was written, and the SHA-256 of its tensors (or of the file).
        public var modelPath: String?
        public var modelSHA256: String?
        /// When the run finished, as the caller wants it shown (e.g. "2025-06-01 14:02 UTC").
        public var finishedAt: String?

        public init(
            classes: [ClassCount] = [], skipped: [SkippedFile] = [], phaseTimes: [PhaseTime] = [],
            modelPath: String? = nil, modelSHA256: String? = nil, finishedAt: String? = nil
        ) {
            self.classes = classes
            self.skipped = skipped
            self.phaseTimes = phaseTimes
            self.modelPath = modelPath
            self.modelSHA256 = modelSHA256
            self.finishedAt = finishedAt
        }
    }

    /// What identifies the run: when it finished, which DogDoor trained it, and how it was started.
    public struct RunMetadata: Sendable, Equatable {
        /// When the run finished, ISO 8601 in UTC ("2026-12-04T09:15:02Z").
        public var date: String
        /// The DogDoor version that trained the model, as `--version` prints it.
        public var version: String
        /// The command line as the process received it, program name first.
        public var commandLine: [String]

        public init(date: String, version: String, commandLine: [String]) {
            self.date = date
            self.version = version
            self.commandLine = commandLine
        }
    }

    /// Page title.
    public var title: String
    /// The class to admit (positive) and the class to refuse.
    public var positiveClass: String
    public var negativeClass: String
    /// The run's settings in the order they are to be shown.
    public var settings: [(key: String, value: String)]
    /// Per-epoch records of all phases, in the order they ran.
    public var epochs: [EpochRecord]
    /// The final model's scores on the validation images.
    public var validation: [ScoredImage]
    /// The operating threshold and its statistics on `validation`.
    public var calibration: Calibration
    public var summary: Summary
    /// Small JPEG (or PNG/WebP) thumbnails keyed by `ScoredImage.path`, for the images that
    /// `misclassified` lists. An image without one is shown with a placeholder.
    public var thumbnails: [String: [UInt8]]
    /// Date, DogDoor version and command line of the run, shown under "Run"; nil leaves them out.
    public var metadata: RunMetadata?
    /// The highest false-accept rate on `validation` at which the verdict says the model may be deployed.
    /// The default, 0, allows no other animal through on the validation images.
    public var targetFalseAcceptRate: Double
    /// The command that calibrates the threshold for `targetFalseAcceptRate` (typically this run's command
    /// line with `--max-false-accept`), shown when the verdict is "do not deploy".
    public var calibrateCommand: String?
    /// Which weights the model kept and why ("weights averaged over epochs 6–10 of phase 2; no epoch chosen
    /// on validation data"), shown under the epoch charts.
    public var selection: String?
    /// Measures of the whole door (decisions over several frames, not single images), shown as a table
    /// "At the door" in the order given; empty leaves the table out.
    public var doorMeasures: [(key: String, value: String)]
    /// The directory that relative image paths in `validation` are relative to, for the links from the
    /// thumbnails to the photos; nil means the process's current directory when the page is made.
    public var workingDirectory: String?

    public init(
        title: String = "DogDoor training report", positiveClass: String, negativeClass: String,
        settings: [(key: String, value: String)], epochs: [EpochRecord], validation: [ScoredImage],
        calibration: Calibration, summary: Summary, thumbnails: [String: [UInt8]] = [:],
        metadata: RunMetadata? = nil, targetFalseAcceptRate: Double = 0, calibrateCommand: String? = nil,
        selection: String? = nil, doorMeasures: [(key: String, value: String)] = [],
        workingDirectory: String? = nil
    ) {
        self.title = title
        self.positiveClass = positiveClass
        self.negativeClass = negativeClass
        self.settings = settings
        self.epochs = epochs
        self.validation = validation
        self.calibration = calibration
        self.summary = summary
        self.thumbnails = thumbnails
        self.metadata = metadata
        self.targetFalseAcceptRate = targetFalseAcceptRate
        self.calibrateCommand = calibrateCommand
        self.selection = selection
        self.doorMeasures = doorMeasures
        self.workingDirectory = workingDirectory
    }

    /// The validation images decided wrongly at `threshold`: false accepts first (most confident first),
    /// then false rejects (most confidently refused first). The caller makes thumbnails of these.
    public static func misclassified(_ scores: [ScoredImage], threshold: Double) -> [ScoredImage] {
        let falseAccepts = scores.filter { !$0.isPositive && $0.isAccepted(at: threshold) }
            .sorted { $0.decisionScore > $1.decisionScore }
        let falseRejects = scores.filter { $0.isPositive && !$0.isAccepted(at: threshold) }
            .sorted { $0.decisionScore < $1.decisionScore }
        return falseAccepts + falseRejects
    }

    /// The validation images decided wrongly at the report's threshold.
    public var misclassified: [ScoredImage] { Self.misclassified(validation, threshold: calibration.threshold) }

    /// True if the validation images support deploying the model: there are images of the negative class and
    /// the share of them admitted at the threshold is at most `targetFalseAcceptRate`.
    public var isFitToDeploy: Bool {
        guard let rate = calibration.confusion.falseAcceptRate else { return false }
        return rate <= targetFalseAcceptRate
    }

    /// One row of the thresholds table: the outcomes on the validation images at `threshold`.
    struct ThresholdRow: Equatable {
        var threshold: Double
        /// True for the model's own threshold.
        var isModel: Bool
        var confusion: ConfusionMatrix
    }

    /// The outcomes at probability thresholds 0.05, 0.10, ..., 0.95 and at `modelThreshold`, in increasing
    /// order; the model's row is marked (and replaces a round threshold equal to it).
    static func thresholdRows(_ scores: [ScoredImage], modelThreshold: Double) -> [ThresholdRow] {
        var thresholds = (1...19).map { Double($0) / 20 }.filter { $0 != modelThreshold }
        if modelThreshold.isFinite { thresholds.append(modelThreshold) }
        return thresholds.sorted().map { t in
            ThresholdRow(
                threshold: t, isModel: t == modelThreshold, confusion: ConfusionMatrix(scores: scores, threshold: t))
        }
    }

    /// Minimum, maximum, mean and sample standard deviation of some values.
    struct Spread: Equatable {
        var count: Int
        var min: Double
        var max: Double
        var mean: Double
        /// Sample standard deviation (divided by n − 1); nil for one value.
        var standardDeviation: Double?

        /// The spread of the finite values, or nil if there are none.
        init?(_ values: [Double]) {
            let finite = values.filter(\.isFinite)
            guard let low = finite.min(), let high = finite.max() else { return nil }
            count = finite.count
            min = low
            max = high
            mean = finite.reduce(0, +) / Double(finite.count)
            let mean = mean
            // Equal values have no spread: their squared differences from the rounded mean would show float
            // noise ("1.4e-14%").
            if finite.count < 2 {
                standardDeviation = nil
            } else if low == high {
                standardDeviation = 0
            } else {
                let squares = finite.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
                standardDeviation = (squares / Double(finite.count - 1)).squareRoot()
            }
        }
    }

    /// The spread of validation accuracy and loss over the epochs of each phase, phases in order of appearance.
    static func phaseSpreads(
        _ epochs: [EpochRecord]
    ) -> [(phase: String, epochs: Int, accuracy: Spread?, loss: Spread?)] {
        var phases: [String] = []
        for epoch in epochs where !phases.contains(epoch.phase) { phases.append(epoch.phase) }
        return phases.map { phase in
            let records = epochs.filter { $0.phase == phase }
            return (
                phase, records.count, Spread(records.map(\.validationAccuracy)), Spread(records.map(\.validationLoss))
            )
        }
    }

    /// Writes the report atomically to `path`.
    public func write(to path: String) throws {
        try AtomicFile.write(html(), to: path)
    }

    /// The complete HTML document.
    public func html() -> String {
        var page = ReportPage()
        page.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        page.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        page.raw("<title>\(ReportText.escape(title)) · \(ReportText.escape(positiveClass))</title>\n")
        page.raw("<style>\(ReportStyle.css)</style>\n</head>\n<body>\n<main>\n")
        header(&page)
        verdict(&page)
        headline(&page)
        curves(&page)
        scores(&page)
        decisions(&page)
        door(&page)
        thresholds(&page)
        gallery(&page)
        data(&page)
        run(&page)
        page.raw(
            "<footer>Generated by dogdoor-train. This page is self-contained: it loads nothing from "
                + "the network.</footer>\n</main>\n</body>\n</html>\n")
        return page.text
    }

    // MARK: - Sections

    private func header(_ page: inout ReportPage) {
        page.raw("<header>\n<div class=\"eyebrow\">\(ReportText.escape(title))</div>\n")
        page.raw(
            "<h1>Admit <span class=\"pos-name\">\(ReportText.escape(positiveClass))</span>, refuse "
                + "<span class=\"neg-name\">\(ReportText.escape(negativeClass))</span></h1>\n")
        var facts: [String] = []
        if let finishedAt = summary.finishedAt ?? metadata?.date { facts.append(ReportText.escape(finishedAt)) }
        if let modelPath = summary.modelPath { facts.append("model <code>\(ReportText.path(modelPath))</code>") }
        facts.append("\(validation.count) validation " + (validation.count == 1 ? "image" : "images"))
        page.raw("<p class=\"meta\">\(facts.joined(separator: " · "))</p>\n</header>\n")
    }

    /// Whether to deploy: a plain "do not deploy" when more other animals are admitted than the target allows
    /// (or none were validated), with the numbers and the command that calibrates; otherwise "fit to deploy"
    /// with the caveat of how little the validation images prove.
    private func verdict(_ page: inout ReportPage) {
        let c = calibration.confusion
        let neg = ReportText.escape(negativeClass)
        let threshold = ReportText.probability(calibration.threshold)
        let target = PercentText.plain(targetFalseAcceptRate)
        let images = "\(c.total) validation " + (c.total == 1 ? "image" : "images")
        if isFitToDeploy {
            let pos = ReportText.escape(positiveClass)
            // Safe is not yet useful: a threshold that refuses most of the dog's photos keeps him waiting.
            let mostlyRefused = c.positives > 0 && 2 * c.falseRejects > c.positives
            page.raw("<section class=\"verdict good\" aria-label=\"Verdict\">\n")
            page.raw(
                "<h2 id=\"verdict\">"
                    + (mostlyRefused ? "Safe to deploy, but slow to admit \(pos)" : "Fit to deploy on this evidence")
                    + "</h2>\n")
            page.raw(
                "<p>At threshold \(threshold), \(c.falseAccepts) of \(c.negatives) \(neg) images are admitted, "
                    + "within the target of at most \(target). This is evidence from \(images) "
                    + "(\(c.positives) \(pos), \(c.negatives) \(neg)), not a guarantee:</p>\n")
            if mostlyRefused {
                page.raw(
                    "<p><strong>\(c.falseRejects) of \(c.positives) \(pos) images are refused</strong>: at the door "
                        + "\(pos) waits until enough frames score above the threshold. More photos of \(pos), "
                        + "above all from the door's own camera, make the model surer of him.</p>\n")
            }
        } else {
            page.raw("<section class=\"verdict bad\" aria-label=\"Verdict\">\n")
            page.raw("<h2 id=\"verdict\">Do not deploy this model</h2>\n")
            if c.negatives == 0 {
                page.raw(
                    "<p>No \(neg) images were validated, so nothing shows how often the door would open for "
                        + "an animal that is not \(ReportText.escape(positiveClass)). Add \(neg) photos to the "
                        + "data, then calibrate the threshold"
                        + (calibrateCommand == nil ? " (dogdoor-train --max-false-accept)." : ":") + "</p>\n")
            } else {
                let rate = PercentText.plain(Double(c.falseAccepts) / Double(c.negatives))
                page.raw(
                    "<p>At threshold \(threshold), <strong>\(c.falseAccepts) of \(c.negatives) \(neg) images are "
                        + "admitted</strong> (\(rate)); the target is at most \(target). Each of them is an "
                        + "animal the door would have let in. Calibrate the threshold for the target"
                        + (calibrateCommand == nil
                            ? " (dogdoor-train with --max-false-accept \(formatNumber(targetFalseAcceptRate, "%g")))"
                                + " or retrain with more \(neg) photos.</p>\n"
                            : ", or retrain with more \(neg) photos if calibrating refuses too many "
                                + "\(ReportText.escape(positiveClass)) images:</p>\n"))
            }
            if let command = calibrateCommand {
                page.raw("<pre class=\"command\"><code>\(ReportText.escape(command))</code></pre>\n")
            }
        }
        page.raw("<p class=\"caveat\" id=\"caveat\">\(ReportText.escape(calibration.caveat))</p>\n</section>\n")
    }

    private func headline(_ page: inout ReportPage) {
        let c = calibration.confusion
        let level = PercentText.plain(Calibration.confidence)
        page.raw("<section class=\"cards\" aria-label=\"Headline results\">\n")

        let accuracy = c.accuracy.map(PercentText.plain) ?? "–"
        card(
            &page, id: "accuracy", label: "Validation accuracy", value: accuracy, tone: "",
            detail: "\(c.correct) of \(c.total) images decided correctly at the threshold")

        let faDetail =
            c.negatives == 0
            ? "no \(ReportText.escape(negativeClass)) images validated"
            : "\(ReportText.escape(negativeClass)) images admitted; the true rate could be up to "
                + "\(PercentText.roundedUp(calibration.falseAcceptRateUpperBound)) (\(level) confidence)"
        card(
            &page, id: "false-accepts", label: "False accepts", value: "\(c.falseAccepts) of \(c.negatives)",
            tone: c.negatives == 0 ? "warn" : (c.falseAccepts == 0 ? "good" : "bad"), detail: faDetail)

        let frDetail =
            c.positives == 0
            ? "no \(ReportText.escape(positiveClass)) images validated"
            : "\(ReportText.escape(positiveClass)) images refused"
                + (calibration.falseRejectRate.map { " (\(PercentText.plain($0)))" } ?? "")
                + "; the true rate could be up to \(PercentText.roundedUp(calibration.falseRejectRateUpperBound))"
        card(
            &page, id: "false-rejects", label: "False rejects", value: "\(c.falseRejects) of \(c.positives)",
            tone: c.positives == 0 || c.falseRejects > 0 ? "warn" : "good", detail: frDetail)

        let how =
            calibration.maxFalseAcceptRate.map {
                "calibrated for ≤ \(PercentText.plain($0)) false accepts"
            } ?? "fixed, not calibrated"
        card(
            &page, id: "threshold", label: "Threshold", value: ReportText.probability(calibration.threshold),
            tone: "", detail: "probability · logit \(fixed(calibration.thresholdLogit, 2)) · \(how)")

        let auc = Metrics.rocAUC(validation)
        card(
            &page, id: "auc", label: "ROC AUC", value: auc.map { fixed($0, 3) } ?? "–", tone: "",
            detail: auc == nil ? "needs both classes in validation" : "1 = perfect ranking, 0.5 = chance")
        page.raw("</section>\n")

        if !calibration.warnings.isEmpty {
            page.raw("<ul class=\"warnings\">\n")
            for warning in calibration.warnings { page.raw("<li>\(ReportText.escape(warning))</li>\n") }
            page.raw("</ul>\n")
        }
    }

    /// `detail` is HTML (already escaped); the other strings are plain text.
    private func card(
        _ page: inout ReportPage, id: String, label: String, value: String, tone: String,
        detail: String
    ) {
        page.raw(
            "<div class=\"card \(tone)\"><div class=\"label\">\(ReportText.escape(label))</div>"
                + "<div class=\"value\" id=\"\(id)\">\(ReportText.escape(value))</div>"
                + "<div class=\"detail\">\(detail)</div></div>\n")
    }

    private func curves(_ page: inout ReportPage) {
        page.raw("<section>\n<h2>Training curves</h2>\n")
        guard !epochs.isEmpty else {
            page.raw("<p class=\"empty\">No epochs were recorded.</p>\n</section>\n")
            return
        }
        page.raw(
            "<p class=\"note\">Training figures are on augmented images; validation figures on the "
                + "validation images at logit 0 (probability 0.5), as during training.</p>\n")
        page.raw("<div class=\"charts\">\n")
        page.raw(
            figure(
                title: "Loss", legend: trainValidationLegend,
                svg: ReportCharts.epochChart(
                    epochs, metric: .loss)))
        page.raw(
            figure(
                title: "Accuracy", legend: trainValidationLegend,
                svg: ReportCharts.epochChart(
                    epochs, metric: .accuracy)))
        page.raw("</div>\n")
        spread(&page)
        if let selection {
            page.raw("<p class=\"selection\" id=\"selection\">\(ReportText.escape(selection))</p>\n")
        }
        page.raw("</section>\n")
    }

    /// Per phase, how far validation accuracy and loss moved over the epochs: a model kept from a phase whose
    /// numbers swing widely is one draw from a wide range.
    private func spread(_ page: inout ReportPage) {
        page.raw(
            "<h3 class=\"sub\">Spread over epochs</h3>\n<div class=\"table-wrap\"><table class=\"spread\">\n"
                + "<thead><tr><th>phase</th><th>validation</th><th class=\"num\">min</th><th class=\"num\">max</th>"
                + "<th class=\"num\">mean</th><th class=\"num\">std. dev.</th></tr></thead>\n<tbody>\n")
        for phase in Self.phaseSpreads(epochs) {
            let name = ReportText.escape(phase.phase)
            let epochs = "\(phase.epochs) " + (phase.epochs == 1 ? "epoch" : "epochs")
            for (what, spread, format) in [
                ("accuracy", phase.accuracy, { ReportText.percent($0) }),
                ("loss", phase.loss, { ReportText.number($0, 4) }),
            ] as [(String, Spread?, (Double) -> String)] {
                let cells =
                    spread.map {
                        [format($0.min), format($0.max), format($0.mean), $0.standardDeviation.map(format) ?? "–"]
                    } ?? ["–", "–", "–", "–"]
                page.raw(
                    "<tr><td>\(name) <span class=\"muted\">(\(epochs))</span></td><td>\(what)</td>"
                        + cells.map { "<td class=\"num\">\($0)</td>" }.joined() + "</tr>\n")
            }
        }
        page.raw("</tbody>\n</table></div>\n")
    }

    private var trainValidationLegend: String {
        "<span><i class=\"swatch\" style=\"--c:var(--train)\"></i>training</span>"
            + "<span><i class=\"swatch dashed\" style=\"--c:var(--val)\"></i>validation</span>"
            + (Set(epochs.map(\.phase)).count > 1
                ? "<span><i class=\"swatch dashed\" style=\"--c:#6b7486;width:14px\"></i>phase change</span>" : "")
    }

    private func scores(_ page: inout ReportPage) {
        page.raw("<section>\n<h2>Validation scores</h2>\n<div class=\"charts\">\n")
        let auc = Metrics.rocAUC(validation)
        let rocTitle = "ROC curve" + (auc.map { " · AUC \(fixed($0, 3))" } ?? "")
        let rocLegend =
            "<span><i class=\"swatch\" style=\"--c:var(--train)\"></i>model</span>"
            + "<span><i class=\"swatch dashed\" style=\"--c:#9aa3b2\"></i>chance</span>"
            + "<span><i class=\"swatch dot\" style=\"--c:var(--bad)\"></i>threshold</span>"
        if let svg = ReportCharts.roc(
            validation, calibration: calibration, positiveClass: positiveClass, negativeClass: negativeClass)
        {
            page.raw(figure(title: rocTitle, legend: rocLegend, svg: svg))
        } else {
            page.raw(
                figure(
                    title: "ROC curve", legend: "",
                    svg: "<p class=\"empty\">The ROC curve needs "
                        + "validation images of both classes.</p>"))
        }
        let histogramLegend =
            "<span><i class=\"swatch box\" style=\"--c:var(--pos)\"></i>"
            + "\(ReportText.escape(positiveClass)) (above the axis)</span>"
            + "<span><i class=\"swatch box\" style=\"--c:var(--neg)\"></i>"
            + "\(ReportText.escape(negativeClass)) (below)</span>"
            + "<span><i class=\"swatch dashed\" style=\"--c:var(--fg)\"></i>threshold</span>"
        if let svg = ReportCharts.histogram(
            validation, threshold: calibration.threshold,
            positiveClass: positiveClass, negativeClass: negativeClass)
        {
            page.raw(figure(title: "Scores by class", legend: histogramLegend, svg: svg))
        } else {
            page.raw(
                figure(
                    title: "Scores by class", legend: "",
                    svg: "<p class=\"empty\">No validation "
                        + "images were scored.</p>"))
        }
        page.raw("</div>\n</section>\n")
    }

    private func figure(title: String, legend: String, svg: String) -> String {
        "<figure>\n<figcaption><h3>\(ReportText.escape(title))</h3>"
            + (legend.isEmpty ? "" : "<div class=\"legend\">\(legend)</div>") + "</figcaption>\n\(svg)\n</figure>\n"
    }

    private func decisions(_ page: inout ReportPage) {
        let c = calibration.confusion
        let pos = ReportText.escape(positiveClass)
        let neg = ReportText.escape(negativeClass)
        page.raw("<section>\n<h2>Decisions at the threshold</h2>\n")
        page.raw("<div class=\"table-wrap\"><table class=\"confusion\">\n")
        page.raw(
            "<thead><tr><th>actual class</th><th class=\"center\">door opens</th>"
                + "<th class=\"center\">door stays shut</th></tr></thead>\n<tbody>\n")
        func cell(_ id: String, _ count: Int, _ name: String, _ tone: String) -> String {
            "<td class=\"\(tone)\"><span class=\"count\" id=\"\(id)\">\(count)</span>\(name)</td>"
        }
        page.raw(
            "<tr><th scope=\"row\">\(pos) <span class=\"muted\">(\(c.positives))</span></th>"
                + cell("cm-true-accepts", c.trueAccepts, "true accepts", "cell-good")
                + cell("cm-false-rejects", c.falseRejects, "false rejects", c.falseRejects > 0 ? "cell-warn" : "")
                + "</tr>\n")
        page.raw(
            "<tr><th scope=\"row\">\(neg) <span class=\"muted\">(\(c.negatives))</span></th>"
                + cell("cm-false-accepts", c.falseAccepts, "false accepts", c.falseAccepts > 0 ? "cell-bad" : "")
                + cell("cm-true-rejects", c.trueRejects, "true rejects", "cell-good")
                + "</tr>\n</tbody>\n</table></div>\n")
        let faRate = calibration.falseAcceptRate.map(PercentText.plain) ?? "unknown"
        let frRate = calibration.falseRejectRate.map(PercentText.plain) ?? "unknown"
        page.raw(
            "<p class=\"note\">False-accept rate \(faRate) (95% upper bound "
                + "\(PercentText.roundedUp(calibration.falseAcceptRateUpperBound))); false-reject rate \(frRate) "
                + "(95% upper bound \(PercentText.roundedUp(calibration.falseRejectRateUpperBound))). A false accept "
                + "opens the door for an animal that is not \(pos).</p>\n</section>\n")
    }

    /// The measures of the whole door, when the caller has them.
    private func door(_ page: inout ReportPage) {
        guard !doorMeasures.isEmpty else { return }
        page.raw(
            "<section>\n<h2>At the door</h2>\n<div class=\"table-wrap\"><table class=\"settings\" id=\"door\">\n<tbody>\n"
        )
        for measure in doorMeasures {
            page.raw(
                "<tr><th scope=\"row\">\(ReportText.escape(measure.key))</th>"
                    + "<td>\(ReportText.escape(measure.value))</td></tr>\n")
        }
        page.raw("</tbody>\n</table></div>\n</section>\n")
    }

    /// False accepts and false rejects on the validation images at round thresholds and the model's own.
    private func thresholds(_ page: inout ReportPage) {
        let pos = ReportText.escape(positiveClass)
        let neg = ReportText.escape(negativeClass)
        page.raw("<section>\n<h2>False accepts and false rejects by threshold</h2>\n")
        guard !validation.isEmpty else {
            page.raw("<p class=\"empty\">No validation images were scored.</p>\n</section>\n")
            return
        }
        page.raw(
            "<p class=\"note\">What the same model would do on the validation images at other thresholds (images "
                + "at or above the threshold are admitted). Rows within the false-accept target of at most "
                + "\(PercentText.plain(targetFalseAcceptRate)) are marked ✓.</p>\n")
        page.raw(
            "<div class=\"table-wrap\"><table class=\"thresholds\" id=\"thresholds\">\n<thead><tr>"
                + "<th class=\"num\">threshold</th><th class=\"num\">false accepts<br><span class=\"muted\">"
                + "\(neg) admitted</span></th><th class=\"num\">rate</th><th class=\"num\">false rejects<br>"
                + "<span class=\"muted\">\(pos) refused</span></th><th class=\"num\">rate</th></tr></thead>\n<tbody>\n")
        for row in Self.thresholdRows(validation, modelThreshold: calibration.threshold) {
            let c = row.confusion
            let withinTarget = c.falseAcceptRate.map { $0 <= targetFalseAcceptRate } ?? false
            page.raw(
                "<tr\(row.isModel ? " class=\"model-row\"" : "")><td class=\"num\">"
                    + (row.isModel
                        ? "<strong>\(ReportText.probability(row.threshold))</strong> this model"
                        : fixed(row.threshold, 2))
                    + "</td><td class=\"num\">\(c.falseAccepts) of \(c.negatives)</td>"
                    + "<td class=\"num\">\(c.falseAcceptRate.map(PercentText.plain) ?? "–")\(withinTarget ? " ✓" : "")</td>"
                    + "<td class=\"num\">\(c.falseRejects) of \(c.positives)</td>"
                    + "<td class=\"num\">\(c.falseRejectRate.map(PercentText.plain) ?? "–")</td></tr>\n")
        }
        page.raw("</tbody>\n</table></div>\n</section>\n")
    }

    private func gallery(_ page: inout ReportPage) {
        let wrong = misclassified
        page.raw("<section>\n<h2>Misclassified validation images <span class=\"muted\">(\(wrong.count))</span></h2>\n")
        guard !wrong.isEmpty else {
            page.raw(
                validation.isEmpty
                    ? "<p class=\"empty\">No validation images were scored.</p>\n</section>\n"
                    : "<p class=\"empty\">Every validation image was decided correctly at the threshold.</p>\n</section>\n"
            )
            return
        }
        page.raw("<p class=\"note\">Each picture opens the photo itself.</p>\n<div class=\"gallery\">\n")
        let directory = workingDirectory ?? ReportText.currentDirectory()
        for image in wrong {
            let name = ReportText.escape(baseName(of: image.path))
            let path = ReportText.escape(image.path)
            let link = ReportText.escape(ReportText.fileURL(image.path, relativeTo: directory))
            let kind =
                image.isPositive
                ? "<span class=\"badge fr\">false reject</span>"
                : "<span class=\"badge fa\">false accept</span>"
            let picture: String
            if let bytes = thumbnails[image.path], let mime = ReportText.imageType(bytes) {
                picture = "<img src=\"data:\(mime);base64,\(ReportText.base64(bytes))\" alt=\"\(name)\">"
            } else {
                picture = "<div class=\"noimg\">no preview</div>"
            }
            page.raw(
                "<figure class=\"thumb\"><a href=\"\(link)\" target=\"_blank\" rel=\"noopener\" "
                    + "title=\"Open \(path)\">\(picture)</a><figcaption>\(kind)<div class=\"file\" title=\"\(path)\">"
                    + "\(name)</div><div>p = \(ReportText.probability(image.decisionScore)) · logit "
                    + "\(ReportText.number(image.logit, 2))</div><div class=\"path\">\(ReportText.path(image.path))"
                    + "</div></figcaption></figure>\n")
        }
        page.raw("</div>\n</section>\n")
    }

    private func data(_ page: inout ReportPage) {
        page.raw("<section>\n<h2>Data</h2>\n")
        if summary.classes.isEmpty {
            page.raw("<p class=\"empty\">No class counts were recorded.</p>\n")
        } else {
            page.raw(
                "<div class=\"table-wrap\"><table>\n<thead><tr><th>class</th><th>role</th>"
                    + "<th class=\"num\">training</th><th class=\"num\">validation</th></tr></thead>\n<tbody>\n")
            for entry in summary.classes {
                let role = entry.name == positiveClass ? "admit" : (entry.name == negativeClass ? "refuse" : "")
                page.raw(
                    "<tr><td>\(ReportText.escape(entry.name))</td><td>\(role)</td>"
                        + "<td class=\"num\">\(entry.training)</td><td class=\"num\">\(entry.validation)</td></tr>\n")
            }
            page.raw(
                "<tr class=\"total\"><td>total</td><td></td><td class=\"num\" id=\"training-count\">"
                    + "\(summary.classes.reduce(0) { $0 + $1.training })</td><td class=\"num\" id=\"validation-count\">"
                    + "\(summary.classes.reduce(0) { $0 + $1.validation })</td></tr>\n</tbody>\n</table></div>\n")
        }
        let folders = settings.filter { $0.key == "data" }
        if !folders.isEmpty {
            page.raw("<h3 class=\"sub\">Folders</h3>\n<ul class=\"folders\">\n")
            for folder in folders { page.raw("<li class=\"path-cell\">\(ReportText.path(folder.value))</li>\n") }
            page.raw("</ul>\n")
        }
        page.raw("<h3 class=\"sub\">Skipped files <span class=\"muted\">(\(summary.skipped.count))</span></h3>\n")
        if summary.skipped.isEmpty {
            page.raw("<p class=\"empty\">No files were skipped.</p>\n")
        } else {
            page.raw(
                "<div class=\"table-wrap\"><table>\n<thead><tr><th>file</th><th>reason</th></tr></thead>\n<tbody>\n")
            for file in summary.skipped {
                page.raw(
                    "<tr><td class=\"path-cell\">\(ReportText.path(file.path))</td>"
                        + "<td>\(ReportText.escape(file.reason))</td></tr>\n")
            }
            page.raw("</tbody>\n</table></div>\n")
        }
        page.raw("</section>\n")
    }

    private func run(_ page: inout ReportPage) {
        page.raw("<section>\n<h2>Run</h2>\n<dl class=\"facts\" id=\"run\">\n")
        if let metadata {
            page.raw("<dt>date</dt><dd>\(ReportText.escape(metadata.date))</dd>\n")
            page.raw("<dt>DogDoor</dt><dd>\(ReportText.escape(metadata.version))</dd>\n")
            page.raw(
                "<dt>command</dt><dd><code class=\"command-line\">"
                    + "\(ReportText.path(shellQuoted(metadata.commandLine)))</code></dd>\n")
        }
        let training = summary.classes.map { "\($0.training) \($0.name)" }.joined(separator: ", ")
        let validating = summary.classes.map { "\($0.validation) \($0.name)" }.joined(separator: ", ")
        page.raw(
            "<dt>data</dt><dd>"
                + (summary.classes.isEmpty
                    ? "no class counts recorded"
                    : "training \(ReportText.escape(training)); validation \(ReportText.escape(validating))")
                + "; \(summary.skipped.count) " + (summary.skipped.count == 1 ? "file" : "files") + " skipped</dd>\n")
        page.raw("</dl>\n<div class=\"two-col\">\n<div>\n<h3 class=\"sub\">Time</h3>\n")
        let times = phaseTimes
        if times.isEmpty {
            page.raw("<p class=\"empty\">No timings were recorded.</p>\n")
        } else {
            page.raw(
                "<div class=\"table-wrap\"><table>\n<thead><tr><th>phase</th><th class=\"num\">epochs</th>"
                    + "<th class=\"num\">wall time</th></tr></thead>\n<tbody>\n")
            for time in times {
                let count = epochs.count { $0.phase == time.phase }
                page.raw(
                    "<tr><td>\(ReportText.escape(time.phase))</td><td class=\"num\">\(count == 0 ? "" : "\(count)")"
                        + "</td><td class=\"num\">\(ReportText.duration(time.seconds))</td></tr>\n")
            }
            let total = times.reduce(0.0) { $0 + ($1.seconds.isFinite ? $1.seconds : 0) }
            page.raw(
                "<tr class=\"total\"><td>total</td><td class=\"num\">\(epochs.count)</td>"
                    + "<td class=\"num\">\(ReportText.duration(total))</td></tr>\n</tbody>\n</table></div>\n")
        }
        page.raw("<h3 class=\"sub\">Model</h3>\n<dl class=\"facts\">\n")
        page.raw("<dt>file</dt><dd><code>\(summary.modelPath.map(ReportText.path) ?? "not written")</code></dd>\n")
        if let sha = summary.modelSHA256 {
            page.raw("<dt>SHA-256</dt><dd><code class=\"hash\">\(ReportText.escape(sha))</code></dd>\n")
        }
        page.raw(
            "<dt>threshold</dt><dd>probability ≥ \(ReportText.probability(calibration.threshold)) "
                + "(logit ≥ \(fixed(calibration.thresholdLogit, 4)))</dd>\n</dl>\n</div>\n")

        page.raw("<div>\n<h3 class=\"sub\">Settings</h3>\n")
        if settings.isEmpty {
            page.raw("<p class=\"empty\">No settings were recorded.</p>\n")
        } else {
            page.raw("<div class=\"table-wrap\"><table class=\"settings\">\n<tbody>\n")
            for setting in settings {
                page.raw(
                    "<tr><th scope=\"row\">\(ReportText.escape(setting.key))</th>"
                        + "<td><code>\(ReportText.path(setting.value))</code></td></tr>\n")
            }
            page.raw("</tbody>\n</table></div>\n")
        }
        page.raw("</div>\n</div>\n")

        if !epochs.isEmpty {
            page.raw(
                "<details>\n<summary>Every epoch (\(epochs.count))</summary>\n<div class=\"table-wrap\"><table>\n"
                    + "<thead><tr><th>phase</th><th class=\"num\">epoch</th><th class=\"num\">loss</th>"
                    + "<th class=\"num\">accuracy</th><th class=\"num\">val loss</th><th class=\"num\">val accuracy</th>"
                    + "<th class=\"num\">time</th></tr></thead>\n<tbody>\n")
            for e in epochs {
                page.raw(
                    "<tr><td>\(ReportText.escape(e.phase))</td><td class=\"num\">\(e.epoch)</td>"
                        + "<td class=\"num\">\(ReportText.number(e.loss, 4))</td>"
                        + "<td class=\"num\">\(ReportText.percent(e.accuracy))</td>"
                        + "<td class=\"num\">\(ReportText.number(e.validationLoss, 4))</td>"
                        + "<td class=\"num\">\(ReportText.percent(e.validationAccuracy))</td>"
                        + "<td class=\"num\">\(ReportText.duration(e.seconds))</td></tr>\n")
            }
            page.raw("</tbody>\n</table></div>\n</details>\n")
        }
        page.raw("</section>\n")
    }

    /// The summary's phase times, or the epochs' times summed per phase in order of appearance.
    private var phaseTimes: [PhaseTime] {
        guard summary.phaseTimes.isEmpty else { return summary.phaseTimes }
        var times: [PhaseTime] = []
        for epoch in epochs {
            let seconds = epoch.seconds.isFinite ? epoch.seconds : 0
            if let index = times.firstIndex(where: { $0.phase == epoch.phase }) {
                times[index].seconds += seconds
            } else {
                times.append(PhaseTime(phase: epoch.phase, seconds: seconds))
            }
        }
        return times
    }
}

/// An HTML document under construction.
struct ReportPage {
    private(set) var text = ""

    /// Appends markup as is; callers escape any text they put in it.
    mutating func raw(_ markup: String) { text += markup }
}

/// Text helpers for the report: escaping, number formats, base64.
enum ReportText {
    /// `text` safe inside HTML or SVG text and inside double- or single-quoted attributes. Control
    /// characters other than tab and newline become U+FFFD.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value):
                out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `path` escaped, with a line-break opportunity (`<wbr>`) after each "/": a long path wraps only between
    /// its components, never inside a name.
    static func path(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { escape(String($0)) }
            .joined(separator: "/<wbr>")
    }

    /// A `file://` URL for `path` (made absolute against `directory` when relative), its bytes outside the
    /// unreserved set and "/" percent-encoded (RFC 3986), so that spaces, "#", "?" and non-ASCII names survive.
    static func fileURL(_ path: String, relativeTo directory: String) -> String {
        var absolute = path.hasPrefix("/") ? path : directory + (directory.hasSuffix("/") ? "" : "/") + path
        if !absolute.hasPrefix("/") { absolute = "/" + absolute }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = Array("file://".utf8)
        for byte in absolute.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The process's current directory, or "/" if it cannot be read.
    static func currentDirectory() -> String {
        guard let buffer = getcwd(nil, 0) else { return "/" }
        defer { free(buffer) }
        return String(cString: buffer)
    }

    /// A number with `decimals` decimals, or "–" when it is not finite.
    static func number(_ value: Double, _ decimals: Int) -> String {
        value.isFinite ? fixed(value, decimals) : "–"
    }

    /// A fraction as a percentage, or "–" when it is not finite.
    static func percent(_ fraction: Double) -> String {
        fraction.isFinite ? PercentText.plain(fraction) : "–"
    }

    /// A probability with three decimals, or enough significant digits to tell it from 0 or 1 when it
    /// is that close ("0.00042", "1 − 3.1e-05").
    static func probability(_ p: Double) -> String {
        guard p.isFinite else { return "–" }
        if p == 0 || p == 1 { return fixed(p, 0) }
        if p < 0.001 { return formatNumber(p, "%.2g") }
        if p > 0.999 { return "1 − " + formatNumber(1 - p, "%.2g") }
        return fixed(p, 3)
    }

    /// A duration for people: "0.4 s", "42 s", "4 min 12 s", "2 h 05 min".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "–" }
        if seconds < 10 { return fixed(seconds, 1) + " s" }
        let whole = Int(seconds.rounded())
        if whole < 60 { return "\(whole) s" }
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        let minutes = (whole % 3600) / 60
        return "\(whole / 3600) h " + (minutes < 10 ? "0" : "") + "\(minutes) min"
    }

    /// The MIME type of an image the report can embed, from its magic bytes; nil for anything else.
    static func imageType(_ bytes: [UInt8]) -> String? {
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
        if bytes.count >= 12, bytes.starts(with: Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WEBP".utf8) {
            return "image/webp"
        }
        return nil
    }

    /// Standard base64 (RFC 4648, section 4) with padding.
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [
                alphabet[Int(group >> 18)], alphabet[Int(group >> 12 & 63)],
                alphabet[Int(group >> 6 & 63)], alphabet[Int(group & 63)],
            ]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let group = UInt32(bytes[index]) << 16
            out += [alphabet[Int(group >> 18)], alphabet[Int(group >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [
                alphabet[Int(group >> 18)], alphabet[Int(group >> 12 & 63)], alphabet[Int(group >> 6 & 63)],
                UInt8(ascii: "="),
            ]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension TrainingReport {
    /// JPEG thumbnails (longest side 160 px) of the validation photos decided wrongly at `threshold`, for the
    /// gallery. A photo that cannot be read is left out (the gallery shows a placeholder).
    public static func thumbnails(of scores: [ScoredImage], threshold: Double) -> [String: [UInt8]] {
        var thumbnails: [String: [UInt8]] = [:]
        for wrong in misclassified(scores, threshold: threshold) {
            guard let image = try? ImageDecoder.decode(file: wrong.path, options: DecodeOptions(minimumSide: 160))
            else { continue }
            let scale = 160.0 / Double(max(image.width, image.height))
            let small = PillowResample.bilinear(
                image, width: max(1, Int(Double(image.width) * scale)),
                height: max(1, Int(Double(image.height) * scale)))
            thumbnails[wrong.path] = try? JPEGEncoder.encode(small, options: JPEGEncodeOptions(quality: 80))
        }
        return thumbnails
    }

    /// The report of a finished run: `settings` first (where the data and weights came from, the machine),
    /// then the recipe; the model written to `modelPath` with tensors `modelSHA256`.
    ///
    /// `targetFalseAcceptRate` defaults to the rate the threshold was calibrated for, or 0 for a fixed
    /// threshold; the other parameters are described with the properties of the same names.
    public init(
        run result: TrainingResult, photos: TrainingJob.Photos, recipe: TrainingRecipe, calibration: Calibration,
        settings: [(key: String, value: String)], modelPath: String, modelSHA256: String,
        metadata: RunMetadata? = nil, targetFalseAcceptRate: Double? = nil, calibrateCommand: String? = nil,
        selection: String? = nil, doorMeasures: [(key: String, value: String)] = []
    ) {
        let train = photos.training.classCounts, valid = photos.validation.classCounts
        let phases = ["frozen", "fine-tune"].compactMap { phase in
            result.phaseSeconds[phase].map { PhaseTime(phase: phase, seconds: $0) }
        }
        self.init(
            positiveClass: photos.positiveClass, negativeClass: photos.negativeClass,
            settings: settings + recipe.summary.map { (key: $0.0, value: $0.1) },
            epochs: result.epochs, validation: result.validation, calibration: calibration,
            summary: Summary(
                classes: [
                    ClassCount(name: photos.positiveClass, training: train.positive, validation: valid.positive),
                    ClassCount(name: photos.negativeClass, training: train.negative, validation: valid.negative),
                ],
                skipped: photos.skipped, phaseTimes: phases, modelPath: modelPath, modelSHA256: modelSHA256),
            thumbnails: Self.thumbnails(of: result.validation, threshold: calibration.threshold),
            metadata: metadata, targetFalseAcceptRate: targetFalseAcceptRate ?? calibration.maxFalseAcceptRate ?? 0,
            calibrateCommand: calibrateCommand, selection: selection, doorMeasures: doorMeasures,
            workingDirectory: ReportText.currentDirectory())
    }
}
