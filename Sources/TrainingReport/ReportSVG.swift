import Support
import Training

/// A small inline-SVG plot: a rectangular plot area with linear scales, axes, and marks.
///
/// Coordinates are written with one decimal and non-finite values are never written: a mark with a
/// non-finite coordinate is left out. Styling comes from the page's CSS classes (`axis`, `grid`, `tick`,
/// ...), so the SVG stays small and restyles with the page. The SVG has a viewBox and no fixed size, so it
/// scales to the width of its container.
struct ReportSVGPlot {
    let width: Double
    let height: Double
    let left: Double
    let right: Double
    let top: Double
    let bottom: Double
    var xDomain: (low: Double, high: Double)
    var yDomain: (low: Double, high: Double)
    /// Layers drawn in order: background marks first, then grid and axes, then data.
    private var background = ""
    private var grid = ""
    private var marks = ""
    private var overlay = ""

    init(
        width: Double = 480, height: Double = 300, left: Double = 68, right: Double = 16, top: Double = 28,
        bottom: Double = 48, x: (Double, Double), y: (Double, Double)
    ) {
        self.width = width
        self.height = height
        self.left = left
        self.right = right
        self.top = top
        self.bottom = bottom
        xDomain = x.1 > x.0 ? (x.0, x.1) : (x.0 - 0.5, x.0 + 0.5)
        yDomain = y.1 > y.0 ? (y.0, y.1) : (y.0 - 0.5, y.0 + 0.5)
    }

    var plotLeft: Double { left }
    var plotRight: Double { width - right }
    var plotTop: Double { top }
    var plotBottom: Double { height - bottom }

    /// Screen x of data value `v`.
    func x(_ v: Double) -> Double {
        plotLeft + (v - xDomain.low) / (xDomain.high - xDomain.low) * (plotRight - plotLeft)
    }

    /// Screen y of data value `v` (larger values higher up).
    func y(_ v: Double) -> Double {
        plotBottom - (v - yDomain.low) / (yDomain.high - yDomain.low) * (plotBottom - plotTop)
    }

    // MARK: Axes

    /// Grid lines, ticks and labels on both axes, and the axis titles.
    mutating func axes(
        xTicks: [(value: Double, label: String)], yTicks: [(value: Double, label: String)],
        xTitle: String, yTitle: String
    ) {
        for tick in xTicks {
            let px = x(tick.value)
            guard px.isFinite else { continue }
            grid += line(px, plotTop, px, plotBottom, class: "grid")
            grid += line(px, plotBottom, px, plotBottom + 5, class: "axis")
            grid += text(tick.label, px, plotBottom + 18, class: "tick", anchor: "middle")
        }
        for tick in yTicks {
            let py = y(tick.value)
            guard py.isFinite else { continue }
            grid += line(plotLeft, py, plotRight, py, class: "grid")
            grid += line(plotLeft - 5, py, plotLeft, py, class: "axis")
            grid += text(tick.label, plotLeft - 8, py + 4, class: "tick", anchor: "end")
        }
        grid += line(plotLeft, plotBottom, plotRight, plotBottom, class: "axis")
        grid += line(plotLeft, plotTop, plotLeft, plotBottom, class: "axis")
        grid += text(xTitle, (plotLeft + plotRight) / 2, height - 8, class: "axis-title", anchor: "middle")
        let cy = (plotTop + plotBottom) / 2
        grid +=
            "<text class=\"axis-title\" text-anchor=\"middle\" transform=\"translate(\(n(13)) \(n(cy))) rotate(-90)\">"
            + ReportText.escape(yTitle) + "</text>"
    }

    /// Labels along the top edge of the plot area (a secondary axis).
    mutating func topLabels(_ labels: [(value: Double, label: String)], title: String) {
        for label in labels {
            let px = x(label.value)
            guard px.isFinite else { continue }
            grid += line(px, plotTop - 4, px, plotTop, class: "axis")
            grid += text(label.label, px, plotTop - 7, class: "tick minor", anchor: "middle")
        }
        grid += text(title, plotRight, 11, class: "tick minor", anchor: "end")
    }

    // MARK: Marks

    /// A polyline through the finite points; a non-finite value breaks the line into separate pieces.
    mutating func series(
        _ points: [(x: Double, y: Double)], class className: String, tooltips: [String]? = nil,
        dots: Bool
    ) {
        var piece: [String] = []
        func flush() {
            if piece.count > 1 {
                marks += "<polyline class=\"\(className)\" points=\"\(piece.joined(separator: " "))\"/>"
            }
            piece.removeAll()
        }
        for point in points {
            let px = x(point.x), py = y(point.y)
            if px.isFinite, py.isFinite { piece.append("\(n(px)),\(n(py))") } else { flush() }
        }
        flush()
        guard dots else { return }
        for (index, point) in points.enumerated() {
            let px = x(point.x), py = y(point.y)
            guard px.isFinite, py.isFinite else { continue }
            let tip = tooltips.map { "<title>" + ReportText.escape($0[index]) + "</title>" } ?? ""
            marks += "<circle class=\"\(className) dot\" cx=\"\(n(px))\" cy=\"\(n(py))\" r=\"3\">\(tip)</circle>"
        }
    }

    /// A filled polygon under a curve, down to the bottom of the plot.
    mutating func area(_ points: [(x: Double, y: Double)], class className: String) {
        let finite = points.map { (x($0.x), y($0.y)) }.filter { $0.0.isFinite && $0.1.isFinite }
        guard let first = finite.first, let last = finite.last else { return }
        var coordinates = ["\(n(first.0)),\(n(plotBottom))"]
        coordinates += finite.map { "\(n($0.0)),\(n($0.1))" }
        coordinates.append("\(n(last.0)),\(n(plotBottom))")
        background += "<polygon class=\"\(className)\" points=\"\(coordinates.joined(separator: " "))\"/>"
    }

    /// A rectangle between data x values and data y values, with an optional tooltip.
    mutating func bar(x0: Double, x1: Double, y0: Double, y1: Double, class className: String, tooltip: String? = nil) {
        let ax = x(x0), bx = x(x1), ay = y(y0), by = y(y1)
        guard ax.isFinite, bx.isFinite, ay.isFinite, by.isFinite else { return }
        let tip = tooltip.map { "<title>" + ReportText.escape($0) + "</title>" } ?? ""
        marks +=
            "<rect class=\"\(className)\" x=\"\(n(min(ax, bx)))\" y=\"\(n(min(ay, by)))\" "
            + "width=\"\(n(abs(bx - ax)))\" height=\"\(n(abs(by - ay)))\">\(tip)</rect>"
    }

    /// A band over the full plot height between data x values (behind everything else).
    mutating func band(x0: Double, x1: Double, class className: String) {
        let ax = max(plotLeft, x(x0)), bx = min(plotRight, x(x1))
        guard ax.isFinite, bx.isFinite, bx > ax else { return }
        background +=
            "<rect class=\"\(className)\" x=\"\(n(ax))\" y=\"\(n(plotTop))\" width=\"\(n(bx - ax))\" "
            + "height=\"\(n(plotBottom - plotTop))\"/>"
    }

    /// A vertical line across the plot at data x `v`, with an optional label at its top.
    mutating func verticalLine(at v: Double, class className: String, label: String? = nil, labelSide: Side = .right) {
        let px = x(v)
        guard px.isFinite else { return }
        overlay += line(px, plotTop, px, plotBottom, class: className)
        if let label {
            let dx = labelSide == .right ? 4.0 : -4.0
            overlay += text(
                label, px + dx, plotTop + 12, class: "mark-label", anchor: labelSide == .right ? "start" : "end")
        }
    }

    /// A line between screen points, over the data (for marks in the margins).
    mutating func screenLine(x1: Double, y1: Double, x2: Double, y2: Double, class className: String) {
        guard x1.isFinite, y1.isFinite, x2.isFinite, y2.isFinite else { return }
        overlay += line(x1, y1, x2, y2, class: className)
    }

    /// A value above the y axis at data x `v`: an arrowhead on the top edge and `label` beside it, the
    /// `stack`-th such mark at this x placed one line lower.
    mutating func clipMark(atX v: Double, label: String, tooltip: String, class className: String, stack: Int = 0) {
        let px = x(v)
        guard px.isFinite else { return }
        let top = plotTop
        let onRight = px < (plotLeft + plotRight) / 2
        overlay +=
            "<g class=\"clipped \(className)\"><title>\(ReportText.escape(tooltip))</title>"
            + "<path d=\"M\(n(px - 4.5)) \(n(top + 7))L\(n(px)) \(n(top - 1))L\(n(px + 4.5)) \(n(top + 7))Z\"/>"
            + text(
                label, px + (onRight ? 8 : -8), top + 12 + 13 * Double(stack), class: "clip-label",
                anchor: onRight ? "start" : "end")
            + "</g>"
    }

    /// A line segment between data points.
    mutating func segment(from a: (x: Double, y: Double), to b: (x: Double, y: Double), class className: String) {
        let ax = x(a.x), ay = y(a.y), bx = x(b.x), by = y(b.y)
        guard ax.isFinite, ay.isFinite, bx.isFinite, by.isFinite else { return }
        background += line(ax, ay, bx, by, class: className)
    }

    /// A marked point with a label beside it.
    mutating func point(at p: (x: Double, y: Double), class className: String, label: String, tooltip: String) {
        let px = x(p.x), py = y(p.y)
        guard px.isFinite, py.isFinite else { return }
        overlay +=
            "<circle class=\"\(className)\" cx=\"\(n(px))\" cy=\"\(n(py))\" r=\"5.5\"><title>"
            + ReportText.escape(tooltip) + "</title></circle>"
        let onRight = px < (plotLeft + plotRight) / 2
        let ly = min(max(py + 18, plotTop + 12), plotBottom - 6)
        overlay += text(label, px + (onRight ? 9 : -9), ly, class: "mark-label", anchor: onRight ? "start" : "end")
    }

    /// Text at data coordinates offset by screen pixels.
    mutating func label(
        _ content: String, atX v: Double, screenY: Double, class className: String,
        anchor: String = "start", dx: Double = 0
    ) {
        let px = x(v)
        guard px.isFinite else { return }
        overlay += text(content, px + dx, screenY, class: className, anchor: anchor)
    }

    /// Text at screen coordinates.
    mutating func screenLabel(
        _ content: String, x px: Double, y py: Double, class className: String,
        anchor: String = "start"
    ) {
        overlay += text(content, px, py, class: className, anchor: anchor)
    }

    enum Side { case left, right }

    /// The finished `<svg>` element, described by `description` for screen readers.
    func svg(description: String) -> String {
        "<svg class=\"chart\" viewBox=\"0 0 \(n(width)) \(n(height))\" role=\"img\" "
            + "preserveAspectRatio=\"xMidYMid meet\" aria-label=\"\(ReportText.escape(description))\">"
            + background + grid + marks + overlay + "</svg>"
    }

    // MARK: Primitives

    private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, class className: String) -> String {
        "<line class=\"\(className)\" x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\"/>"
    }

    private func text(_ content: String, _ px: Double, _ py: Double, class className: String, anchor: String) -> String
    {
        "<text class=\"\(className)\" x=\"\(n(px))\" y=\"\(n(py))\" text-anchor=\"\(anchor)\">"
            + ReportText.escape(content) + "</text>"
    }

    /// A screen coordinate with one decimal ("-0.0" written as "0").
    private func n(_ v: Double) -> String {
        let text = fixed(v, 1)
        if text == "-0.0" { return "0.0" }
        return text
    }
}

/// Axis tick positions at "nice" round numbers.
enum ReportTicks {
    /// A round step (1, 2, 2.5 or 5 times a power of ten; integers 1, 2, 5 times a power of ten when
    /// `integer`) near `rough`.
    static func step(_ rough: Double, integer: Bool = false) -> Double {
        guard rough.isFinite, rough > 0 else { return 1 }
        let magnitude = pow(10, (log10(rough)).rounded(.down))
        let fraction = rough / magnitude
        let nice: Double
        switch fraction {
        case ...1: nice = 1
        case ...2: nice = 2
        case ...2.5 where !integer || magnitude >= 10: nice = 2.5
        case ...5: nice = 5
        default: nice = 10
        }
        return integer ? max(1, nice * magnitude) : nice * magnitude
    }

    /// Multiples of `step` within [low, high], with labels written with just enough decimals.
    static func ticks(low: Double, high: Double, step: Double) -> [(value: Double, label: String)] {
        guard low.isFinite, high.isFinite, step.isFinite, step > 0, high >= low else { return [] }
        let first = (low / step - 1e-9).rounded(.up)
        let last = (high / step + 1e-9).rounded(.down)
        guard last >= first, last - first < 1000 else { return [] }
        let decimals = self.decimals(step)
        return stride(from: first, through: last, by: 1).map { index in
            let value = index * step + 0  // + 0 turns -0.0 into 0.0
            return (value, label(value, decimals: decimals))
        }
    }

    /// The number of decimals that writes every multiple of `step` exactly (0 to 6).
    static func decimals(_ step: Double) -> Int {
        for d in 0...6 {
            let scaled = step * pow(10, Double(d))
            if abs(scaled - scaled.rounded()) < 1e-6 * max(1, scaled) { return d }
        }
        return 6
    }

    static func label(_ value: Double, decimals: Int) -> String {
        let text = fixed(value, decimals)
        // Negative zero from rounding a tiny negative value.
        if text.hasPrefix("-"), text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) {
            return String(text.dropFirst())
        }
        return text
    }
}
