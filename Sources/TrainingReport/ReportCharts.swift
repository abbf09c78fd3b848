import Support
import Training

/// The report's charts, as inline SVG.
enum ReportCharts {
    enum EpochMetric { case loss, accuracy }

    /// Training and validation loss or accuracy per epoch, all phases on one x axis (epochs counted across
    /// phases), each phase a band labelled with its name and phase changes marked by dashed lines.
    static func epochChart(_ epochs: [EpochRecord], metric: EpochMetric) -> String {
        let count = epochs.count
        let training = epochs.map { metric == .loss ? $0.loss : $0.accuracy }
        let validation = epochs.map { metric == .loss ? $0.validationLoss : $0.validationAccuracy }
        let finite = (training + validation).filter(\.isFinite)

        let yLow: Double, yHigh: Double, yStep: Double
        switch metric {
        case .loss:
            (yLow, yHigh, yStep) = lossRange(finite)
        case .accuracy:
            let lowest = min(max(finite.min() ?? 0.5, 0), 1)
            yLow = min(0.5, (lowest * 10).rounded(.down) / 10)
            yHigh = 1
            yStep = yHigh - yLow > 0.5 ? 0.2 : 0.1
        }
        let xDomain = count == 1 ? (0.5, 1.5) : (1.0, Double(count))
        var plot = ReportSVGPlot(top: 30, x: xDomain, y: (yLow, yHigh))

        // Phases: consecutive epochs with the same phase name.
        var runs: [(phase: String, first: Int, last: Int)] = []
        for (index, epoch) in epochs.enumerated() {
            if runs.last?.phase == epoch.phase {
                runs[runs.count - 1].last = index + 1
            } else {
                runs.append((epoch.phase, index + 1, index + 1))
            }
        }
        for (index, run) in runs.enumerated() {
            let start = Double(run.first) - 0.5, end = Double(run.last) + 0.5
            if index % 2 == 1 { plot.band(x0: start, x1: end, class: "band-alt") }
            if index > 0 { plot.verticalLine(at: start, class: "boundary") }
            let labelX = max(plot.x(start), plot.plotLeft) + 4
            plot.screenLabel(run.phase, x: labelX, y: plot.plotTop - 8, class: "phase-label")
        }

        let xStep = ReportTicks.step(Double(count) / 8, integer: true)
        var xTicks = ReportTicks.ticks(low: 1, high: Double(count), step: xStep)
        if let first = xTicks.first, first.value - 1 >= xStep / 2 { xTicks.insert((1, "1"), at: 0) }
        let yTicks = ReportTicks.ticks(low: yLow, high: yHigh, step: yStep).map { tick in
            metric == .accuracy ? (tick.value, fixed(tick.value * 100, 0) + "%") : tick
        }
        plot.axes(
            xTicks: xTicks, yTicks: yTicks, xTitle: "epoch (counted across phases)",
            yTitle: metric == .loss ? "binary cross-entropy" : "accuracy")

        func format(_ v: Double) -> String { metric == .loss ? ReportText.number(v, 4) : ReportText.percent(v) }
        let dots = count <= 60
        let xs = (1...max(count, 1)).map(Double.init)
        // Losses above the axis (a wild first epoch) are drawn on its top edge and marked with their values.
        var clippedCount = 0
        var marksAt: [Int: Int] = [:]
        for (index, epoch) in epochs.enumerated() {
            for (series, value) in [("train", training[index]), ("val", validation[index])]
            where value.isFinite && value > yHigh {
                clippedCount += 1
                let which = series == "train" ? "training" : "validation"
                plot.clipMark(
                    atX: xs[index], label: "↑ " + ReportText.number(value, value >= 10 ? 1 : 2),
                    tooltip: "\(epoch.phase) epoch \(epoch.epoch): \(which) \(format(value)), above the axis",
                    class: series + "-clip", stack: marksAt[index, default: 0])
                marksAt[index, default: 0] += 1
            }
        }
        let shownTraining = training.map { $0.isFinite ? min($0, yHigh) : $0 }
        let shownValidation = validation.map { $0.isFinite ? min($0, yHigh) : $0 }
        plot.series(
            Array(zip(xs, shownTraining)).map { (x: $0.0, y: $0.1) }, class: "train",
            tooltips: epochs.map {
                "\($0.phase) epoch \($0.epoch): training \(format(metric == .loss ? $0.loss : $0.accuracy))"
            },
            dots: dots)
        plot.series(
            Array(zip(xs, shownValidation)).map { (x: $0.0, y: $0.1) }, class: "val",
            tooltips: epochs.map {
                "\($0.phase) epoch \($0.epoch): validation \(format(metric == .loss ? $0.validationLoss : $0.validationAccuracy))"
            },
            dots: dots)
        let what = metric == .loss ? "Loss" : "Accuracy"
        return plot.svg(
            description: "\(what) per epoch for training and validation over \(count) "
                + (count == 1 ? "epoch" : "epochs") + " in \(runs.count) " + (runs.count == 1 ? "phase" : "phases")
                + (clippedCount == 0 ? "" : "; \(clippedCount) above the axis, marked with their values"))
    }

    /// The y axis of the loss chart (low, high, tick step) for the finite losses `values`.
    ///
    /// One diverging epoch (a first-epoch loss of 50 beside 0.6) would squash every other point onto the
    /// axis, so values above four times the median, and above 1 (a coin toss scores 0.69), are left out of
    /// the range: the chart draws them on its top edge, marked with their values.
    static func lossRange(_ values: [Double]) -> (low: Double, high: Double, step: Double) {
        let finite = values.filter(\.isFinite).sorted()
        guard !finite.isEmpty else { return (0, 1, 0.2) }
        let middle = finite.count / 2
        let median = finite.count % 2 == 1 ? finite[middle] : (finite[middle - 1] + finite[middle]) / 2
        let limit = max(4 * median, 1)
        let highest = max(finite.last { $0 <= limit } ?? limit, 0)
        let step = ReportTicks.step((highest > 0 ? highest : 1) / 5)
        let low = min(0, (finite[0] / step).rounded(.down) * step)
        return (low, max(step, (highest / step).rounded(.up) * step), step)
    }

    /// The ROC curve with the chance diagonal and the operating point; nil if a class is missing.
    static func roc(
        _ scores: [ScoredImage], calibration: Calibration, positiveClass: String, negativeClass: String
    ) -> String? {
        let points = Metrics.rocCurve(scores)
        guard !points.isEmpty, let auc = Metrics.rocAUC(scores) else { return nil }
        var plot = ReportSVGPlot(
            width: 450, height: 400, left: 70, right: 24, top: 20, bottom: 52, x: (0, 1), y: (0, 1))
        let ticks = ReportTicks.ticks(low: 0, high: 1, step: 0.25).map { ($0.value, fixed($0.value * 100, 0) + "%") }
        plot.axes(
            xTicks: ticks, yTicks: ticks, xTitle: "\(negativeClass) admitted (false accept rate)",
            yTitle: "\(positiveClass) admitted (true accept rate)")
        plot.segment(from: (0, 0), to: (1, 1), class: "chance")
        let curve = points.map { (x: $0.falsePositiveRate, y: $0.truePositiveRate) }
        plot.area(curve, class: "roc-area")
        plot.series(curve, class: "roc", dots: false)
        let c = calibration.confusion
        let fpr = c.falseAcceptRate ?? 0
        let tpr = 1 - (c.falseRejectRate ?? 1)
        plot.point(
            at: (fpr, tpr), class: "operating",
            label: "threshold \(ReportText.probability(calibration.threshold))",
            tooltip: "threshold \(ReportText.probability(calibration.threshold)): \(c.falseAccepts) of "
                + "\(c.negatives) \(negativeClass) and \(c.trueAccepts) of \(c.positives) \(positiveClass) admitted")
        return plot.svg(
            description: "ROC curve, area under the curve \(fixed(auc, 3)); operating point at "
                + "false-accept rate \(PercentText.plain(fpr)) and true-accept rate \(PercentText.plain(tpr))")
    }

    /// Histogram of validation logits, the positive class above the axis and the negative class below,
    /// with the threshold line and the admitted region shaded. Nil for no scores.
    static func histogram(
        _ scores: [ScoredImage], threshold: Double, positiveClass: String,
        negativeClass: String
    ) -> String? {
        guard !scores.isEmpty else { return nil }
        let thresholdLogit = Metrics.logit(threshold)
        // NaN logits score 0 in decisions, so they belong with the lowest scores. Logits beyond ±20
        // (probabilities within 2e-9 of 0 or 1) go into the end bins, so that one wild score does not
        // squeeze all the others into a single bar.
        let limit = 20.0
        let logits = scores.map { $0.logit.isNaN ? -Double.infinity : $0.logit }
        let clamped = logits.contains { abs($0) > limit }
        let finite = (logits + [thresholdLogit]).filter(\.isFinite).map { min(max($0, -limit), limit) }
        var low = finite.min() ?? -1
        var high = finite.max() ?? 1
        if high - low < 2 {
            let middle = (low + high) / 2
            low = middle - 1
            high = middle + 1
        }
        let width = ReportTicks.step((high - low) / 14)
        let start = (low / width).rounded(.down) * width
        var end = (high / width).rounded(.up) * width
        if end <= start { end = start + width }
        let binCount = max(1, Int(((end - start) / width).rounded()))
        func bin(_ v: Double) -> Int {
            guard v.isFinite else { return v > 0 ? binCount - 1 : 0 }
            return min(max(Int(((v - start) / width).rounded(.down)), 0), binCount - 1)
        }
        var positives = [Int](repeating: 0, count: binCount)
        var negatives = [Int](repeating: 0, count: binCount)
        for (image, logit) in zip(scores, logits) {
            if image.isPositive { positives[bin(logit)] += 1 } else { negatives[bin(logit)] += 1 }
        }
        let tallest = max(positives.max() ?? 0, negatives.max() ?? 0, 1)
        let yStep = ReportTicks.step(Double(tallest) / 3, integer: true)
        let yTop = (Double(tallest) / yStep).rounded(.up) * yStep

        // The top margin holds, from the top: the secondary axis's title, the "refuse | admit" labels beside a
        // stub of the threshold line, and the probability ticks; no label is drawn inside the plot area, where
        // the tallest bar reaches the top.
        var plot = ReportSVGPlot(height: 400, top: 58, x: (start, end), y: (-yTop, yTop))
        plot.band(x0: min(max(thresholdLogit, start), end), x1: end, class: "admit-zone")
        let xTicks = ReportTicks.ticks(low: start, high: end, step: ReportTicks.step((end - start) / 6))
        let yTicks = ReportTicks.ticks(low: -yTop, high: yTop, step: yStep).map {
            ($0.value, ReportTicks.label(abs($0.value), decimals: 0))
        }
        plot.axes(
            xTicks: xTicks, yTicks: yTicks,
            xTitle: "logit (probability = sigmoid of logit)" + (clamped ? ", beyond ±20 in the end bins" : ""),
            yTitle: "images (\(positiveClass) ↑ · \(negativeClass) ↓)")
        plot.topLabels(
            xTicks.compactMap { tick in
                let p = Metrics.sigmoid(tick.value)
                return p >= 0.005 && p <= 0.995 ? (tick.value, fixed(p, 2)) : nil
            }, title: "probability")
        plot.segment(from: (start, 0), to: (end, 0), class: "zero")
        let inset = width * 0.08
        for index in 0..<binCount {
            let x0 = start + Double(index) * width
            let range =
                "logit \(ReportTicks.label(x0, decimals: ReportTicks.decimals(width))) to "
                + ReportTicks.label(x0 + width, decimals: ReportTicks.decimals(width))
            if positives[index] > 0 {
                plot.bar(
                    x0: x0 + inset, x1: x0 + width - inset, y0: 0, y1: Double(positives[index]), class: "pos-bar",
                    tooltip: "\(positives[index]) \(positiveClass), \(range)")
            }
            if negatives[index] > 0 {
                plot.bar(
                    x0: x0 + inset, x1: x0 + width - inset, y0: 0, y1: -Double(negatives[index]), class: "neg-bar",
                    tooltip: "\(negatives[index]) \(negativeClass), \(range)")
            }
        }
        let lineAt = min(max(thresholdLogit, start), end)
        plot.verticalLine(at: lineAt, class: "threshold")
        let px = plot.x(lineAt)
        plot.screenLine(x1: px, y1: 18, x2: px, y2: 36, class: "threshold")
        plot.screenLabel("← refuse", x: px - 5, y: 31, class: "mark-label", anchor: "end")
        plot.screenLabel("admit →", x: px + 5, y: 31, class: "mark-label")
        return plot.svg(
            description: "Histogram of validation logits: \(scores.count { $0.isPositive }) "
                + "\(positiveClass) and \(scores.count { !$0.isPositive }) \(negativeClass) images, threshold at logit "
                + fixed(thresholdLogit, 2))
    }
}

/// The report's style sheet.
enum ReportStyle {
    static let css = """
        :root{--fg:#1c2330;--muted:#5d6778;--bg:#f4f5f7;--card:#fff;--line:#e1e4e9;--grid:#edf0f3;\
        --train:#2f6fdb;--val:#e07a1f;--pos:#1f9a6a;--neg:#7b5cd1;--bad:#c62828;--bad-bg:#fdecea;\
        --good:#1b7f4b;--good-bg:#e7f5ee;--warn:#955800;--warn-bg:#fff3dc;color-scheme:light}
        *{box-sizing:border-box}
        body{margin:0;background:var(--bg);color:var(--fg);\
        font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif}
        main{max-width:1120px;margin:0 auto;padding:28px 18px 48px}
        h1{font-size:1.7rem;line-height:1.25;margin:.15rem 0 .2rem}
        h2{font-size:1.2rem;margin:2.2rem 0 .8rem;padding-bottom:.35rem;border-bottom:1px solid var(--line)}
        h3{font-size:1rem;margin:0 0 .3rem}
        h3.sub{margin:1.2rem 0 .5rem}
        .eyebrow{text-transform:uppercase;letter-spacing:.08em;font-size:.75rem;color:var(--muted);font-weight:700}
        .pos-name{color:var(--pos)}
        .neg-name{color:var(--neg)}
        .meta{color:var(--muted);margin:0}
        .muted{color:var(--muted);font-weight:400}
        .note{color:var(--muted);font-size:.88rem;margin:.4rem 0 .8rem}
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(175px,1fr));gap:12px;margin-top:22px}
        .card{background:var(--card);border:1px solid var(--line);border-top:4px solid #c5cbd5;border-radius:10px;\
        padding:12px 16px 14px}
        .card .label{font-size:.76rem;color:var(--muted);font-weight:700;text-transform:uppercase;letter-spacing:.05em}
        .card .value{font-size:1.85rem;font-weight:750;line-height:1.2;margin:.25rem 0;font-variant-numeric:tabular-nums;\
        white-space:nowrap}
        .card .detail{font-size:.84rem;color:var(--muted);line-height:1.35}
        .card.good{border-top-color:var(--good)}
        .card.good .value{color:var(--good)}
        .card.bad{border-top-color:var(--bad)}
        .card.bad .value{color:var(--bad)}
        .card.warn{border-top-color:#e4a232}
        .card.warn .value{color:var(--warn)}
        .verdict{background:var(--card);border:1px solid var(--line);border-left:8px solid;border-radius:10px;\
        padding:4px 20px 14px;margin-top:22px}
        .verdict h2{border:0;margin:.7rem 0 .3rem;padding:0;font-size:1.45rem}
        .verdict.bad{border-left-color:var(--bad);background:var(--bad-bg)}
        .verdict.bad h2{color:var(--bad)}
        .verdict.good{border-left-color:var(--good)}
        .verdict.good h2{color:var(--good)}
        .verdict p{margin:.4rem 0}
        .verdict .caveat{color:var(--muted);font-size:.9rem}
        pre.command{background:var(--fg);color:#fff;border-radius:8px;padding:10px 14px;margin:.5rem 0;\
        white-space:pre-wrap;overflow-wrap:normal;word-break:normal}
        pre.command code{font-size:.88rem}
        .selection{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--train);\
        border-radius:8px;padding:10px 16px;margin:12px 0 0}
        .model-row td{background:#eef3fc;font-weight:600}
        .warnings{background:var(--warn-bg);color:var(--warn);border-radius:8px;margin:10px 0 0;\
        padding:10px 16px 10px 34px}
        .charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:16px;\
        align-items:start}
        figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 14px 8px}
        .legend{display:flex;flex-wrap:wrap;gap:2px 16px;font-size:.84rem;color:var(--muted);margin:2px 0 6px}
        .swatch{display:inline-block;width:22px;height:0;border-top:3px solid var(--c);vertical-align:middle;\
        margin-right:6px}
        .swatch.dashed{border-top-style:dashed}
        .swatch.box{width:12px;height:12px;border:0;border-radius:2px;background:var(--c)}
        .swatch.dot{width:11px;height:11px;border:0;border-radius:50%;background:var(--c)}
        svg.chart{width:100%;height:auto;display:block;overflow:visible}
        svg text{fill:var(--fg);font-family:inherit}
        .tick{font-size:12px;fill:var(--muted)}
        .tick.minor{font-size:10.5px}
        .axis-title{font-size:12.5px;fill:var(--muted)}
        .axis{stroke:#98a1b0;stroke-width:1}
        .grid{stroke:var(--grid);stroke-width:1}
        .train{fill:none;stroke:var(--train);stroke-width:2.2;stroke-linejoin:round}
        .val{fill:none;stroke:var(--val);stroke-width:2.2;stroke-dasharray:6 4;stroke-linejoin:round}
        .dot{stroke:none}
        .train.dot{fill:var(--train)}
        .val.dot{fill:var(--val)}
        .band-alt{fill:#eef3fc}
        .boundary{stroke:#6b7486;stroke-width:1.2;stroke-dasharray:4 3}
        .phase-label{font-size:11.5px;fill:var(--muted);font-weight:700}
        .roc{fill:none;stroke:var(--train);stroke-width:2.4;stroke-linejoin:round}
        .roc-area{fill:var(--train);fill-opacity:.1}
        .chance{stroke:#98a1b0;stroke-width:1.2;stroke-dasharray:4 4}
        .operating{fill:var(--bad);stroke:#fff;stroke-width:2}
        .mark-label{font-size:12px;font-weight:700}
        .clipped text{font-size:11px;font-weight:700}
        .train-clip,.train-clip text{fill:var(--train)}
        .val-clip,.val-clip text{fill:var(--val)}
        .pos-bar{fill:var(--pos)}
        .neg-bar{fill:var(--neg)}
        .zero{stroke:#98a1b0;stroke-width:1}
        .threshold{stroke:var(--fg);stroke-width:1.6;stroke-dasharray:5 3}
        .admit-zone{fill:var(--good-bg)}
        table{border-collapse:collapse;width:100%;background:var(--card);font-variant-numeric:tabular-nums}
        th,td{text-align:left;padding:7px 12px;border-bottom:1px solid var(--line);vertical-align:top}
        tbody tr:last-child>*{border-bottom:0}
        thead th{font-size:.74rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);background:#fafbfc}
        .num{text-align:right}
        .center{text-align:center}
        tr.total td{font-weight:700}
        .table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:10px;background:var(--card)}
        .confusion td{text-align:center;width:38%;color:var(--muted);font-size:.9rem}
        .confusion tbody th{font-size:1rem;vertical-align:middle}
        .confusion .count{display:block;font-size:1.7rem;font-weight:750;color:var(--fg)}
        .cell-good{background:var(--good-bg)}
        .cell-bad{background:var(--bad-bg)}
        .cell-bad .count{color:var(--bad)}
        .cell-warn{background:var(--warn-bg)}
        .gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}
        .gallery figure{padding:8px}
        .gallery a{display:block;border-radius:6px}
        .gallery a:focus-visible,.gallery a:hover{outline:2px solid var(--train);outline-offset:2px}
        .gallery img,.noimg{width:100%;aspect-ratio:4/3;object-fit:contain;border-radius:6px;display:block;\
        background:#e8ebf0}
        .noimg{display:flex;align-items:center;justify-content:center;color:var(--muted);font-size:.85rem}
        .gallery figcaption{font-size:.82rem;margin-top:7px;line-height:1.4}
        .badge{display:inline-block;font-size:.7rem;font-weight:700;text-transform:uppercase;letter-spacing:.04em;\
        padding:1px 8px;border-radius:999px;margin-bottom:3px}
        .badge.fa{background:var(--bad-bg);color:var(--bad)}
        .badge.fr{background:var(--warn-bg);color:var(--warn)}
        .file{font-weight:700;overflow-wrap:normal;word-break:normal;overflow:hidden;text-overflow:ellipsis;\
        white-space:nowrap}
        .path,.path-cell,code,.facts dd{overflow-wrap:normal;word-break:normal}
        .path{color:var(--muted);font-size:.74rem}
        .folders{margin:0;padding-left:20px}
        code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.85em}
        code.hash{overflow-wrap:anywhere}
        .empty{color:var(--muted);font-style:italic}
        .two-col{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,380px),1fr));gap:8px 24px}
        .facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0;background:var(--card);\
        border:1px solid var(--line);border-radius:10px;padding:10px 14px}
        .facts dt{color:var(--muted)}
        .facts dd{margin:0}
        .settings th{width:40%;font-weight:600}
        details{margin-top:18px}
        summary{cursor:pointer;font-weight:700;margin-bottom:8px}
        footer{margin-top:40px;color:var(--muted);font-size:.8rem}
        @media (max-width:520px){main{padding:18px 12px 36px}h1{font-size:1.35rem}.card .value{font-size:1.5rem}\
        th,td{padding:6px 8px}figure{padding:10px 8px 6px}.tick{font-size:16px}.tick.minor{font-size:13px}\
        .axis-title{font-size:16px}.mark-label,.phase-label{font-size:15px}}
        """
}
