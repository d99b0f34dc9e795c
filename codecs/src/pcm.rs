//! Small PCM helpers: sample conversion, level measurement and a framer that
//! re-chunks audio of arbitrary lengths into fixed frames (Twilio sends 20 ms,
//! earshot wants 16 ms, providers want whatever they want).

use dasp::sample::Sample;

/// Converts a 16-bit sample to a float in [-1, 1).
#[inline]
pub fn i16_to_f32(s: i16) -> f32 {
    s.to_sample::<f32>()
}

/// Converts a float to a 16-bit sample, clipping out-of-range input; NaN maps to 0.
#[inline]
pub fn f32_to_i16(s: f32) -> i16 {
    // Rounds half away from zero without `f32::round` (a libm call on
    // baseline x86-64, and this runs for every resampled sample). `as`
    // truncates, saturates out-of-range values and maps NaN to 0.
    let scaled = s * 32768.0;
    (scaled + 0.5f32.copysign(scaled)) as i16
}

/// Level of `pcm` in dB relative to full scale (a full-scale square wave is 0 dBFS).
///
/// Empty input and digital silence give `f32::NEG_INFINITY`.
pub fn rms_dbfs(pcm: &[i16]) -> f32 {
    if pcm.is_empty() {
        return f32::NEG_INFINITY;
    }
    let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let mean = energy / pcm.len() as f64;
    if mean == 0.0 {
        return f32::NEG_INFINITY;
    }
    (10.0 * (mean / (32768.0 * 32768.0)).log10()) as f32
}

/// Re-chunks a stream of arbitrary-length pushes into frames of `frame_len`.
///
/// The buffer is compacted lazily, so steady-state use does not allocate
/// beyond the returned frames (use [`Framer::pop_into`] to avoid even that).
#[derive(Clone, Debug)]
pub struct Framer {
    /// Samples not yet handed out; `buf[read..]` is pending.
    buf: Vec<i16>,
    /// Index of the first pending sample in `buf`.
    read: usize,
    /// Length of every frame handed out; at least 1.
    frame_len: usize,
}

impl Framer {
    /// A framer for frames of `frame_len` samples (0 is treated as 1).
    pub fn new(frame_len: usize) -> Self {
        let frame_len = frame_len.max(1);
        Self {
            buf: Vec::with_capacity(frame_len * 2),
            read: 0,
            frame_len,
        }
    }

    /// Length of the frames this framer hands out.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Appends samples.
    pub fn push(&mut self, pcm: &[i16]) {
        if self.read > 0 && self.read >= self.buf.len() / 2 {
            self.buf.drain(..self.read);
            self.read = 0;
        }
        self.buf.extend_from_slice(pcm);
    }

    /// Takes the next full frame, if there is one.
    pub fn pop_frame(&mut self) -> Option<Vec<i16>> {
        let frame = self.next_frame()?.to_vec();
        Some(frame)
    }

    /// Copies the next full frame into `dst` (which must hold `frame_len`
    /// samples); returns false and leaves `dst` alone if there is no full
    /// frame or `dst` is too short.
    pub fn pop_into(&mut self, dst: &mut [i16]) -> bool {
        if dst.len() < self.frame_len {
            return false;
        }
        match self.next_frame() {
            Some(frame) => {
                dst[..frame.len()].copy_from_slice(frame);
                true
            }
            None => false,
        }
    }

    /// Samples waiting for a full frame.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.read
    }

    /// Hands out the partial frame left over, zero-padded to `frame_len`.
    pub fn flush_padded(&mut self) -> Option<Vec<i16>> {
        if self.pending() == 0 {
            return None;
        }
        let mut frame = self.buf[self.read..].to_vec();
        frame.resize(self.frame_len, 0);
        self.clear();
        Some(frame)
    }

    /// Drops everything pending.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.read = 0;
    }

    fn next_frame(&mut self) -> Option<&[i16]> {
        if self.pending() < self.frame_len {
            return None;
        }
        let start = self.read;
        self.read += self.frame_len;
        Some(&self.buf[start..self.read])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn conversions_clip_and_round_trip() {
        assert_eq!(i16_to_f32(-32768), -1.0);
        assert_eq!(i16_to_f32(0), 0.0);
        assert_eq!(f32_to_i16(2.0), i16::MAX);
        assert_eq!(f32_to_i16(-2.0), i16::MIN);
        assert_eq!(f32_to_i16(f32::NAN), 0);
        for s in [-32768i16, -1234, -1, 0, 1, 4321, 32767] {
            assert_eq!(f32_to_i16(i16_to_f32(s)), s);
        }
    }

    #[test]
    fn rms_of_full_scale_square_is_zero_dbfs_and_silence_is_minus_infinity() {
        let square: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 32767 } else { -32767 })
            .collect();
        assert!(rms_dbfs(&square).abs() < 0.01);
        assert_eq!(rms_dbfs(&[0; 160]), f32::NEG_INFINITY);
        assert_eq!(rms_dbfs(&[]), f32::NEG_INFINITY);
        let half: Vec<i16> = square.iter().map(|s| s / 2).collect();
        assert!((rms_dbfs(&half) + 6.02).abs() < 0.05);
    }

    #[test]
    fn framer_rechunks_20ms_into_16ms_frames() {
        let mut framer = Framer::new(256);
        let mut frames = Vec::new();
        for chunk in 0..8 {
            framer.push(&[chunk as i16; 320]);
            while let Some(frame) = framer.pop_frame() {
                frames.push(frame);
            }
        }
        assert_eq!(frames.len(), 10);
        assert_eq!(framer.pending(), 0);
        assert_eq!(frames[1][..64], [0; 64]);
        assert_eq!(frames[1][64..], [1; 192]);
        assert!(framer.flush_padded().is_none());
    }

    #[test]
    fn flush_pads_the_tail_with_zeros() {
        let mut framer = Framer::new(4);
        framer.push(&[1, 2, 3, 4, 5]);
        let mut frame = [0i16; 4];
        assert!(framer.pop_into(&mut frame));
        assert_eq!(frame, [1, 2, 3, 4]);
        assert!(!framer.pop_into(&mut frame));
        assert_eq!(framer.flush_padded(), Some(vec![5, 0, 0, 0]));
        assert_eq!(framer.pending(), 0);
    }

    proptest! {
        #[test]
        fn framer_keeps_every_sample_in_order(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<i16>(), 0..300), 0..20),
            frame_len in 0usize..300,
        ) {
            let mut framer = Framer::new(frame_len);
            let mut out = Vec::new();
            for chunk in &chunks {
                framer.push(chunk);
                while let Some(frame) = framer.pop_frame() {
                    prop_assert_eq!(frame.len(), framer.frame_len());
                    out.extend(frame);
                }
            }
            let total: usize = chunks.iter().map(Vec::len).sum();
            if let Some(tail) = framer.flush_padded() {
                out.extend(tail);
            }
            let flat: Vec<i16> = chunks.concat();
            prop_assert_eq!(&out[..total], &flat[..]);
            prop_assert!(out[total..].iter().all(|&s| s == 0));
        }

        #[test]
        fn pop_into_any_buffer_never_panics(
            pushes in proptest::collection::vec(0usize..500, 0..10),
            frame_len in 0usize..300,
            dst_len in 0usize..600,
        ) {
            let mut framer = Framer::new(frame_len);
            let mut dst = vec![0i16; dst_len];
            for n in pushes {
                framer.push(&vec![3; n]);
                while framer.pop_into(&mut dst) {
                    prop_assert!(dst_len >= framer.frame_len());
                }
            }
            prop_assert!(framer.pending() < framer.frame_len() || dst_len < framer.frame_len());
        }

        #[test]
        fn rms_and_conversion_never_panic(pcm in proptest::collection::vec(any::<i16>(), 0..500), x in any::<f32>()) {
            let level = rms_dbfs(&pcm);
            prop_assert!(level <= 0.01, "level {}", level);
            let _ = f32_to_i16(x);
        }
    }
}
