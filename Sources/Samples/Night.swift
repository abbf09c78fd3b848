extension NightLook {
    /// Turns the daylight colours of `canvas` (the scene's reflectance) into an infrared night picture.
    /// `subject` marks the pixels the subject (with its contact shadow) changed; they are lit as the ground
    /// at `groundY` (a fraction of the height, where its feet are) rather than as the rows they cover.
    func apply(to canvas: Canvas, subject: [Bool], horizon: Double, groundY: Double) {
        precondition(subject.count == canvas.width * canvas.height)
        let w = Double(canvas.width), h = Double(canvas.height)
        let halfDiagonal2 = (w * w + h * h) / 4
        let illumination = self.illumination, farLevel = self.farLevel, hotSpot = self.hotSpot
        // The lamp's light on the ground: dim at the horizon (far), full at the frame's bottom edge.
        func ground(_ y: Double) -> Double {
            guard y > horizon else { return farLevel }
            let t = min(1, (y - horizon) / max(1 - horizon, 1e-6))
            return farLevel + (1 - farLevel) * t * t.squareRoot()
        }
        let subjectLight = min(1.6, ground(min(groundY, 1)) * subjectGain)
        canvas.shadeRows { x, y, c in
            let px = Double(x) + 0.5 - w / 2, py = Double(y) + 0.5 - h / 2
            let lamp = 1 - hotSpot * (px * px + py * py) / halfDiagonal2
            let light = subject[y * canvas.width + x] ? subjectLight : ground((Double(y) + 0.5) / h)
            // Surfaces differ less under the lamp's near-infrared than in colour: black fur shows dark gray.
            let gray = (0.12 + 0.88 * c.luma) * light * lamp * illumination
            return RGB(gray, gray, gray)
        }
    }
}
