//! The cheap part of the VAD: decides from frame energy alone whether a
//! frame can be skipped (called non-speech without running the network).
//!
//! Two thresholds, the higher wins: the configured absolute level (digital
//! silence and line hiss), and an adaptive one a margin above the noise floor,
//! which is tracked as the minimum frame energy over the last ~1.5 s
//! (minimum statistics). The adaptive part keeps steady background noise
//! from reaching the network, which both saves inferences and stops earshot
//! from calling loud stationary noise speech.

/// Frames per block of the minimum tracker (8 x 16 ms = 128 ms).
const BLOCK_FRAMES: u32 = 8;
/// Blocks remembered: 12 x 128 ms, about 1.5 s of history.
const BLOCKS: usize = 12;
/// A frame must be this far above the noise floor to reach the network.
pub(crate) const NOISE_MARGIN_DB: f32 = 6.0;

/// Energy gate with a noise-floor tracker; a few dozen bytes.
#[derive(Clone, Debug)]
pub(crate) struct EnergyGate {
    /// Configured absolute gate, dBFS.
    absolute_dbfs: f32,
    /// Minimum of each finished block, oldest overwritten first.
    block_minima: [f32; BLOCKS],
    /// Next slot of `block_minima` to overwrite.
    next_block: usize,
    /// Minimum of the block in progress and how many frames it has seen.
    current_min: f32,
    current_frames: u32,
}

impl EnergyGate {
    pub(crate) fn new(absolute_dbfs: f32) -> Self {
        Self {
            absolute_dbfs,
            block_minima: [f32::INFINITY; BLOCKS],
            next_block: 0,
            current_min: f32::INFINITY,
            current_frames: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::new(self.absolute_dbfs);
    }

    /// Feeds one frame's level; true if the frame should skip inference.
    pub(crate) fn is_gated(&mut self, level_dbfs: f32) -> bool {
        self.track(level_dbfs);
        level_dbfs < self.threshold_dbfs()
    }

    /// Current gate level: the higher of the absolute and adaptive gates.
    pub(crate) fn threshold_dbfs(&self) -> f32 {
        let floor = self
            .block_minima
            .iter()
            .fold(self.current_min, |a, &b| a.min(b));
        if floor.is_finite() {
            self.absolute_dbfs.max(floor + NOISE_MARGIN_DB)
        } else {
            self.absolute_dbfs
        }
    }

    fn track(&mut self, level_dbfs: f32) {
        // Digital silence (-inf) must not drag the floor to -inf forever:
        // it only ever lowers the gate to the absolute level, which max() does.
        self.current_min = self.current_min.min(level_dbfs);
        self.current_frames += 1;
        if self.current_frames == BLOCK_FRAMES {
            self.block_minima[self.next_block] = self.current_min;
            self.next_block = (self.next_block + 1) % BLOCKS;
            self.current_min = f32::INFINITY;
            self.current_frames = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_noise_raises_the_gate_above_itself() {
        let mut gate = EnergyGate::new(-55.0);
        assert!(
            gate.is_gated(-40.0),
            "the first frame sets the floor and sits below floor + margin"
        );
        for i in 0..100 {
            let level = -40.0 + if i % 2 == 0 { 0.5 } else { -0.5 };
            assert!(gate.is_gated(level), "frame {i} of steady noise");
        }
        assert!(!gate.is_gated(-30.0), "speech 10 dB over the noise passes");
    }

    #[test]
    fn floor_follows_the_noise_down_and_forgets_it_after_the_window() {
        let mut gate = EnergyGate::new(-55.0);
        for _ in 0..50 {
            gate.is_gated(-30.0);
        }
        assert!(gate.is_gated(-25.0));
        for _ in 0..(BLOCK_FRAMES as usize * (BLOCKS + 1)) {
            gate.is_gated(-50.0);
        }
        assert!(
            !gate.is_gated(-40.0),
            "old loud floor forgotten after ~1.5 s"
        );
    }

    #[test]
    fn digital_silence_keeps_the_absolute_gate() {
        let mut gate = EnergyGate::new(-55.0);
        for _ in 0..20 {
            assert!(gate.is_gated(f32::NEG_INFINITY));
        }
        assert_eq!(gate.threshold_dbfs(), -55.0);
        assert!(!gate.is_gated(-50.0));
        gate.reset();
        assert_eq!(gate.threshold_dbfs(), -55.0);
    }
}
