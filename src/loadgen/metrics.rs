//! Sample sets and the statistics the report prints: percentiles
//! (nearest-rank on a sorted copy), summaries, histograms and CDFs. All
//! samples are kept (f32 milliseconds: 100 k turns is 400 KB), which keeps
//! percentiles exact.

use serde::Serialize;

/// A growing set of measurements in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    values: Vec<f32>,
    sorted: bool,
}

impl Samples {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one measurement; NaN is ignored (it has no rank).
    pub fn push(&mut self, v: f32) {
        if !v.is_nan() {
            self.values.push(v);
            self.sorted = false;
        }
    }

    pub fn extend(&mut self, other: &[f32]) {
        for &v in other {
            self.push(v);
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values in ascending order.
    pub fn sorted(&mut self) -> &[f32] {
        if !self.sorted {
            self.values.sort_unstable_by(f32::total_cmp);
            self.sorted = true;
        }
        &self.values
    }

    /// Nearest-rank percentile, `p` in 0..=100; None when empty.
    pub fn percentile(&mut self, p: f64) -> Option<f32> {
        percentile_of_sorted(self.sorted(), p)
    }

    pub fn summary(&mut self) -> Summary {
        Summary::of_sorted(self.sorted())
    }
}

/// Nearest-rank percentile of an ascending slice: the smallest value with at
/// least `p` percent of the samples at or below it.
pub fn percentile_of_sorted(sorted: &[f32], p: f64) -> Option<f32> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Count, mean and the usual percentiles of a sample set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub min: f32,
    pub mean: f32,
    pub p50: f32,
    pub p90: f32,
    pub p99: f32,
    pub max: f32,
}

impl Summary {
    /// Summary of an ascending slice (all zeros when empty).
    pub fn of_sorted(sorted: &[f32]) -> Summary {
        let Some(&max) = sorted.last() else {
            return Summary::default();
        };
        let pct = |p| percentile_of_sorted(sorted, p).expect("slice is not empty");
        let sum: f64 = sorted.iter().map(|&v| f64::from(v)).sum();
        Summary {
            count: sorted.len(),
            min: sorted[0],
            mean: (sum / sorted.len() as f64) as f32,
            p50: pct(50.0),
            p90: pct(90.0),
            p99: pct(99.0),
            max,
        }
    }
}

/// Equal-width histogram over `[lo, hi)`; values outside land in the edge bins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    pub lo: f32,
    pub width: f32,
    pub counts: Vec<u64>,
}

impl Histogram {
    /// `bins` bins covering the samples (from 0 when all are positive).
    pub fn of_sorted(sorted: &[f32], bins: usize) -> Histogram {
        let bins = bins.max(1);
        let lo = sorted.first().copied().unwrap_or(0.0).min(0.0);
        let hi = sorted.last().copied().unwrap_or(1.0).max(lo + 1.0);
        let width = (hi - lo) / bins as f32;
        let mut counts = vec![0u64; bins];
        for &v in sorted {
            let i = ((v - lo) / width) as usize;
            counts[i.min(bins - 1)] += 1;
        }
        Histogram { lo, width, counts }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Up to `points` (value, fraction at or below) pairs of the empirical CDF.
pub fn cdf_of_sorted(sorted: &[f32], points: usize) -> Vec<(f32, f32)> {
    if sorted.is_empty() || points == 0 {
        return Vec::new();
    }
    let n = sorted.len();
    let step = (n / points).max(1);
    let mut out: Vec<(f32, f32)> = (step - 1..n)
        .step_by(step)
        .map(|i| (sorted[i], (i + 1) as f32 / n as f32))
        .collect();
    if out.last().map(|&(_, f)| f) != Some(1.0) {
        out.push((sorted[n - 1], 1.0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nearest_rank_percentiles_of_one_to_hundred() {
        let mut s = Samples::new();
        for v in (1..=100).rev() {
            s.push(v as f32);
        }
        assert_eq!(s.percentile(50.0), Some(50.0));
        assert_eq!(s.percentile(99.0), Some(99.0));
        assert_eq!(s.percentile(100.0), Some(100.0));
        assert_eq!(s.percentile(0.0), Some(1.0));
        let sum = s.summary();
        assert_eq!(
            (sum.count, sum.min, sum.max, sum.mean),
            (100, 1.0, 100.0, 50.5)
        );
    }

    #[test]
    fn empty_set_has_no_percentile_and_a_zero_summary() {
        let mut s = Samples::new();
        s.push(f32::NAN);
        assert_eq!(s.percentile(50.0), None);
        assert_eq!(s.summary(), Summary::default());
    }

    proptest! {
        #[test]
        fn percentile_is_a_sample_with_enough_mass_below(
            values in proptest::collection::vec(-1e4f32..1e4, 1..300),
            p in 0.0f64..=100.0,
        ) {
            let mut s = Samples::new();
            s.extend(&values);
            let v = s.percentile(p).expect("non-empty");
            prop_assert!(values.contains(&v));
            let at_or_below = values.iter().filter(|&&x| x <= v).count() as f64;
            prop_assert!(at_or_below / values.len() as f64 >= p / 100.0 - 1e-9);
            let below = values.iter().filter(|&&x| x < v).count() as f64;
            prop_assert!(below / (values.len() as f64) < p / 100.0 + 1e-9 || below == 0.0);
        }

        #[test]
        fn percentiles_are_monotonic(values in proptest::collection::vec(0f32..1e4, 1..300)) {
            let mut s = Samples::new();
            s.extend(&values);
            let sum = s.summary();
            prop_assert!(sum.min <= sum.p50 && sum.p50 <= sum.p90);
            prop_assert!(sum.p90 <= sum.p99 && sum.p99 <= sum.max);
        }

        #[test]
        fn histogram_counts_every_sample(
            values in proptest::collection::vec(0f32..5e3, 0..300),
            bins in 1usize..64,
        ) {
            let mut s = Samples::new();
            s.extend(&values);
            let h = Histogram::of_sorted(s.sorted(), bins);
            prop_assert_eq!(h.total(), values.len() as u64);
            prop_assert_eq!(h.counts.len(), bins);
        }

        #[test]
        fn cdf_is_nondecreasing_and_ends_at_one(
            values in proptest::collection::vec(0f32..5e3, 1..500),
            points in 1usize..100,
        ) {
            let mut s = Samples::new();
            s.extend(&values);
            let cdf = cdf_of_sorted(s.sorted(), points);
            prop_assert_eq!(cdf.last().map(|c| c.1), Some(1.0));
            prop_assert!(cdf.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        }
    }
}
