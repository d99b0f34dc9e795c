//! The VAD's own 8 kHz -> 16 kHz upsampler: a 16-tap polyphase half-band
//! FIR. earshot only needs the phone band carried over cleanly with little
//! imaging above 4 kHz, and this costs a fraction of an FFT resampler per
//! 20 ms (the inbound path runs it for every frame of every call) with a
//! delay of 1 ms.
//!
//! Even outputs are the input delayed by `HALF` samples; odd outputs are the
//! half-sample interpolation by a Blackman-windowed sinc.

/// Taps on each side of the interpolated point.
const HALF: usize = 8;
/// Taps of the odd phase.
const TAPS: usize = 2 * HALF;

/// Odd-phase coefficients: windowed sinc at offsets -7.5..=7.5, unit DC gain.
fn odd_phase() -> [f32; TAPS] {
    let mut c = [0f32; TAPS];
    for (k, tap) in c.iter_mut().enumerate() {
        let t = k as f64 - (HALF as f64 - 0.5);
        let x = std::f64::consts::PI * t;
        let sinc = x.sin() / x;
        let n = (k as f64 + 0.5) / TAPS as f64; // window position in (0, 1)
        let window = 0.42 - 0.5 * (2.0 * std::f64::consts::PI * n).cos()
            + 0.08 * (4.0 * std::f64::consts::PI * n).cos();
        *tap = (sinc * window) as f32;
    }
    let sum: f32 = c.iter().sum();
    c.map(|v| v / sum)
}

/// Streaming 2x upsampler for 8 kHz i16 audio. Output follows input at once.
#[derive(Clone, Debug)]
pub(crate) struct HalfbandUpsampler {
    coeffs: [f32; TAPS],
    /// The last `TAPS - 1` input samples (oldest first), then the current
    /// push; one contiguous buffer so each output is a slice window.
    buf: Vec<f32>,
}

impl HalfbandUpsampler {
    pub(crate) fn new() -> Self {
        let mut buf = Vec::with_capacity(TAPS + 320);
        buf.resize(TAPS - 1, 0.0);
        Self {
            coeffs: odd_phase(),
            buf,
        }
    }

    /// Delay in output (16 kHz) samples.
    pub(crate) fn delay_samples(&self) -> usize {
        2 * HALF
    }

    pub(crate) fn reset(&mut self) {
        self.buf.clear();
        self.buf.resize(TAPS - 1, 0.0);
    }

    /// Appends two output samples per input sample to `out`.
    pub(crate) fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if input.iter().all(|&s| s == 0) && self.buf.iter().all(|&x| x == 0.0) {
            // Digital silence on a silent history: exact zeros, no filtering.
            out.resize(out.len() + 2 * input.len(), 0);
            return;
        }
        self.buf.extend(input.iter().map(|&s| f32::from(s)));
        out.reserve(2 * input.len());
        for window in self.buf.windows(TAPS) {
            let odd = dot(window, &self.coeffs);
            out.push(window[HALF - 1] as i16);
            // `as` saturates, so overshoot near full scale clips.
            out.push((odd + 0.5f32.copysign(odd)) as i16);
        }
        let keep_from = self.buf.len() - (TAPS - 1);
        self.buf.copy_within(keep_from.., 0);
        self.buf.truncate(TAPS - 1);
    }
}

/// 16-tap dot product in four lanes, so the compiler can use SIMD.
#[inline]
fn dot(window: &[f32], coeffs: &[f32; TAPS]) -> f32 {
    let mut lanes = [0f32; 4];
    for (x, c) in window.chunks_exact(4).zip(coeffs.chunks_exact(4)) {
        for l in 0..4 {
            lanes[l] += x[l] * c[l];
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcm::rms_dbfs;

    fn sine(hz: f32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (10000.0 * (2.0 * std::f32::consts::PI * hz * i as f32 / 8000.0).sin()) as i16)
            .collect()
    }

    #[test]
    fn passband_tone_keeps_its_level_and_images_are_suppressed() {
        for (hz, min_kept) in [(300.0, -0.2), (1000.0, -0.2), (3000.0, -1.0)] {
            let input = sine(hz, 8000);
            let mut up = HalfbandUpsampler::new();
            let mut out = Vec::new();
            up.process(&input, &mut out);
            let change = rms_dbfs(&out[1000..15000]) - rms_dbfs(&input[500..7500]);
            assert!(
                change > min_kept && change < 0.2,
                "{hz} Hz changed by {change} dB"
            );
            // The image of `hz` sits at 8000 - hz; measure it by mixing down.
            let image = 8000.0 - hz;
            let (mut re, mut im) = (0f64, 0f64);
            for (i, &s) in out[1000..15000].iter().enumerate() {
                let phase = 2.0 * std::f64::consts::PI * f64::from(image) * i as f64 / 16000.0;
                re += f64::from(s) * phase.cos();
                im += f64::from(s) * phase.sin();
            }
            let image_amp = 2.0 * (re * re + im * im).sqrt() / 14000.0;
            let suppression = 20.0 * (10000.0 / image_amp).log10();
            if hz < 3000.0 {
                assert!(
                    suppression > 40.0,
                    "{hz} Hz image only {suppression} dB down"
                );
            }
        }
    }

    #[test]
    fn output_is_two_per_input_and_zeros_stay_zeros() {
        let mut up = HalfbandUpsampler::new();
        let mut out = Vec::new();
        up.process(&[0; 160], &mut out);
        assert_eq!(out, vec![0; 320]);
        up.process(&[i16::MAX; 33], &mut out);
        assert_eq!(out.len(), 320 + 66);
        up.process(&[], &mut out);
        up.process(&[0; 40], &mut out);
        assert_eq!(out.len(), 320 + 66 + 80);
        assert!(
            out[386..].iter().any(|&s| s != 0),
            "the filter tail rings out"
        );
        up.process(&[0; 40], &mut out);
        assert!(
            out[466..].iter().all(|&s| s == 0),
            "zeros once the history is zeros"
        );
    }

    #[test]
    fn chunking_does_not_change_the_output() {
        let input: Vec<i16> = (0..1000)
            .map(|i| ((i * 7919) % 20000) as i16 - 10000)
            .collect();
        let mut whole = Vec::new();
        HalfbandUpsampler::new().process(&input, &mut whole);
        let mut up = HalfbandUpsampler::new();
        let mut pieces = Vec::new();
        for chunk in input.chunks(7) {
            up.process(chunk, &mut pieces);
        }
        assert_eq!(whole, pieces);
    }
}
