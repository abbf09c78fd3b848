import Support

/// Exact (Clopper-Pearson) confidence bounds on a binomial rate.
///
/// Validation sets are small, so an observed rate says little on its own: 0 false accepts in 20 negatives
/// is consistent with a true false-accept rate of up to 13.9%. These bounds say how far the truth could be
/// from what was observed. They are exact, i.e. conservative: the true rate lies below the upper bound with
/// probability at least `confidence`, whatever it is.
public enum ClopperPearson {
    /// One-sided upper confidence bound on a rate after `events` events in `trials` trials.
    ///
    /// The `confidence` quantile of Beta(k + 1, n - k); for `events == 0` this is `1 - (1 - confidence)^(1/n)`
    /// (0 of 20 at 95%: 0.1391). With no trials nothing is known and the bound is 1.
    /// - Precondition: `0 <= events <= trials` and `0 < confidence < 1`.
    public static func upperBound(events: Int, trials: Int, confidence: Double = 0.95) -> Double {
        precondition(events >= 0 && events <= trials, "need 0 <= events <= trials, got \(events) of \(trials)")
        precondition(confidence > 0 && confidence < 1, "confidence must be strictly between 0 and 1")
        if events == trials { return 1 }
        if events == 0 { return -expm1(log1p(-confidence) / Double(trials)) }
        return Beta.quantile(confidence, a: Double(events + 1), b: Double(trials - events))
    }

    /// One-sided lower confidence bound on a rate after `events` events in `trials` trials.
    ///
    /// The `1 - confidence` quantile of Beta(k, n - k + 1); 0 when there are no events.
    /// - Precondition: `0 <= events <= trials` and `0 < confidence < 1`.
    public static func lowerBound(events: Int, trials: Int, confidence: Double = 0.95) -> Double {
        precondition(events >= 0 && events <= trials, "need 0 <= events <= trials, got \(events) of \(trials)")
        precondition(confidence > 0 && confidence < 1, "confidence must be strictly between 0 and 1")
        if events == 0 { return 0 }
        if events == trials { return exp(log1p(-confidence) / Double(trials)) }
        return Beta.quantile(1 - confidence, a: Double(events), b: Double(trials - events + 1))
    }
}

/// The beta distribution's cumulative distribution function and its inverse.
public enum Beta {
    /// The regularized incomplete beta function I_x(a, b): P(X <= x) for X ~ Beta(a, b).
    ///
    /// Evaluated with the continued fraction for the incomplete beta function (modified Lentz method), on
    /// whichever of I_x(a, b) and 1 - I_{1-x}(b, a) converges quickly. Relative accuracy is about 1e-14.
    /// - Precondition: `a > 0`, `b > 0`, `0 <= x <= 1`.
    public static func regularizedIncomplete(_ x: Double, a: Double, b: Double) -> Double {
        precondition(a > 0 && b > 0, "beta parameters must be positive")
        precondition(x >= 0 && x <= 1, "x must lie in [0, 1]")
        if x == 0 { return 0 }
        if x == 1 { return 1 }
        // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
        if x > (a + 1) / (a + b + 2) {
            return 1 - regularizedIncomplete(1 - x, a: b, b: a)
        }
        let logFront = a * log(x) + b * log1p(-x) - logBeta(a, b)
        return exp(logFront) / a * continuedFraction(x, a: a, b: b)
    }

    /// The `p` quantile of Beta(a, b): the x with I_x(a, b) = p, found by bisection to within 1e-15.
    /// - Precondition: `a > 0`, `b > 0`, `0 <= p <= 1`.
    public static func quantile(_ p: Double, a: Double, b: Double) -> Double {
        precondition(a > 0 && b > 0, "beta parameters must be positive")
        precondition(p >= 0 && p <= 1, "p must lie in [0, 1]")
        if p == 0 { return 0 }
        if p == 1 { return 1 }
        var low = 0.0
        var high = 1.0
        // The CDF is increasing in x; each step halves the bracket. 200 steps is far more than the ~50
        // a Double needs; the loop stops as soon as the bracket cannot shrink further.
        for _ in 0..<200 {
            let mid = 0.5 * (low + high)
            if mid <= low || mid >= high || high - low < 1e-15 { break }
            if regularizedIncomplete(mid, a: a, b: b) < p { low = mid } else { high = mid }
        }
        return 0.5 * (low + high)
    }

    /// log B(a, b) = log Γ(a) + log Γ(b) - log Γ(a + b).
    static func logBeta(_ a: Double, _ b: Double) -> Double {
        logGamma(a) + logGamma(b) - logGamma(a + b)
    }

    /// log |Γ(x)|, through the reentrant C function (plain `lgamma` writes a global).
    static func logGamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return lgamma_r(x, &sign)
    }

    /// The continued fraction 1 / (1 + d1 / (1 + d2 / (1 + ...))) of the incomplete beta function, where
    /// d(2m+1) = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)) and d(2m) = m(b-m)x / ((a+2m-1)(a+2m)),
    /// evaluated with the modified Lentz method.
    private static func continuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        let epsilon = 1e-16
        func guarded(_ v: Double) -> Double { abs(v) < tiny ? tiny : v }
        var c = 1.0
        var d = 1 / guarded(1 - (a + b) * x / (a + 1))
        var result = d
        for m in 1...100_000 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 / guarded(1 + even * d)
            c = guarded(1 + even / c)
            result *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 / guarded(1 + odd * d)
            c = guarded(1 + odd / c)
            let delta = d * c
            result *= delta
            if abs(delta - 1) < epsilon { break }
        }
        return result
    }
}
