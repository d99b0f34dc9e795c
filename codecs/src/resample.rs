//! Streaming sample-rate conversion for one direction of one call.
//!
//! Wraps rubato's synchronous FFT resampler (`Fft`, `FixedSync::Input`): it
//! band-limits properly (so 24 kHz TTS audio does not alias into the 8 kHz
//! phone band), costs about a microsecond per 20 ms chunk and a few tens of
//! KB per instance, which matters at thousands of calls (rubato's sinc
//! resampler is ~270 KB; the polynomial ones do not filter).
//!
//! Data flow: `process` converts incoming i16 samples to f32 straight into a
//! fixed 20 ms input chunk; each time the chunk fills, rubato runs once and
//! the output is appended, converted back to i16, to the caller's vector. So
//! input of any length is accepted, and the output follows whenever a whole
//! chunk of input has arrived (up to 20 ms of buffering latency on top of
//! [`StreamResampler::delay_samples`]). `flush` zero-pads the last partial
//! chunk and pumps the filter tail out, so that after a flush the total
//! output of the utterance is exactly `delay_samples() + ceil(n_in * to / from)`.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::pcm::{f32_to_i16, i16_to_f32};

/// Why a resampler could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    /// Only the rate pairs the engine needs are supported (see [`StreamResampler::new`]).
    #[error("unsupported resampling {from_hz} Hz -> {to_hz} Hz")]
    UnsupportedRate { from_hz: u32, to_hz: u32 },
    /// rubato refused the parameters (should not happen for supported pairs).
    #[error("resampler construction failed: {0}")]
    Construction(String),
}

/// Rate pairs with a real resampler behind them; `from == to` is pass-through.
const SUPPORTED: [(u32, u32); 4] = [(8000, 16000), (16000, 8000), (24000, 8000), (48000, 8000)];

/// Sub-chunks per 20 ms chunk: a 10 ms FFT block keeps the delay at a few
/// milliseconds while the anti-aliasing filter stays steep enough for 24k->8k.
const SUB_CHUNKS: usize = 2;

/// One rubato FFT resampler plus its fixed-size chunk buffers.
struct FftStage {
    resampler: Fft<f32>,
    /// Input chunk being filled; always exactly one chunk long.
    chunk_in: Vec<f32>,
    /// Samples of `chunk_in` filled so far.
    filled: usize,
    /// Output scratch, sized for the largest output rubato can produce.
    chunk_out: Vec<f32>,
    /// Whether the chunk being filled holds any non-zero sample.
    chunk_has_signal: bool,
    /// All-zero chunks run in a row; once the filter state is all zeros,
    /// more zeros in give zeros out, so rubato can be skipped.
    silent_chunks: u32,
}

/// All-zero chunks after which rubato's state is surely all zeros (its
/// overlap spans one FFT block, at most one chunk).
const SILENT_CHUNKS_FOR_SHORTCUT: u32 = 2;

/// A streaming mono resampler for one call and one direction. `Send`.
pub struct StreamResampler {
    from_hz: u32,
    to_hz: u32,
    /// `None` for pass-through (`from_hz == to_hz`).
    stage: Option<Box<FftStage>>,
    /// Input samples accepted since the last reset; sizes the flush.
    consumed: u64,
    /// Output samples emitted since the last reset.
    emitted: u64,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("from_hz", &self.from_hz)
            .field("to_hz", &self.to_hz)
            .field("consumed", &self.consumed)
            .field("emitted", &self.emitted)
            .finish_non_exhaustive()
    }
}

impl StreamResampler {
    /// Supported: 8k->16k, 16k->8k, 24k->8k, 48k->8k, and `from == to`
    /// (pass-through). Others: `Err(UnsupportedRate)`.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, ResampleError> {
        let stage = if from_hz == to_hz && from_hz > 0 {
            None
        } else if SUPPORTED.contains(&(from_hz, to_hz)) {
            Some(Box::new(FftStage::new(from_hz, to_hz)?))
        } else {
            return Err(ResampleError::UnsupportedRate { from_hz, to_hz });
        };
        Ok(Self {
            from_hz,
            to_hz,
            stage,
            consumed: 0,
            emitted: 0,
        })
    }

    /// Input rate in Hz.
    pub fn from_hz(&self) -> u32 {
        self.from_hz
    }

    /// Output rate in Hz.
    pub fn to_hz(&self) -> u32 {
        self.to_hz
    }

    /// Accepts any input length; appends every output sample available now to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        self.consumed += input.len() as u64;
        let Some(stage) = self.stage.as_mut() else {
            out.extend_from_slice(input);
            self.emitted += input.len() as u64;
            return;
        };
        let mut rest = input;
        while !rest.is_empty() {
            let take = stage.fill(rest);
            rest = &rest[take..];
            if stage.is_full() {
                self.emitted += stage.run(out) as u64;
            }
        }
    }

    /// End of utterance: emit the buffered tail (zero-padded), then reset for the next one.
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        let target = self.flushed_len();
        if let Some(stage) = self.stage.as_mut() {
            if self.consumed > 0 {
                let start = out.len();
                while self.emitted < target {
                    stage.pad();
                    let produced = stage.run(out);
                    if produced == 0 {
                        break; // cannot happen with rubato's fixed input; never spin
                    }
                    self.emitted += produced as u64;
                }
                let excess = self.emitted.saturating_sub(target) as usize;
                out.truncate(out.len().saturating_sub(excess).max(start));
            }
        }
        self.reset();
    }

    /// Drops buffered input and filter state.
    pub fn reset(&mut self) {
        if let Some(stage) = self.stage.as_mut() {
            stage.resampler.reset();
            stage.filled = 0;
            stage.chunk_has_signal = false;
            stage.silent_chunks = 0;
        }
        self.consumed = 0;
        self.emitted = 0;
    }

    /// Delay the resampler adds, in output samples (0 for pass-through).
    ///
    /// An event at input sample `i` appears at output sample
    /// `i * to / from + delay_samples()`.
    pub fn delay_samples(&self) -> usize {
        self.stage
            .as_ref()
            .map_or(0, |stage| stage.resampler.output_delay())
    }

    /// Input samples buffered, waiting for a whole chunk.
    pub fn pending_input(&self) -> usize {
        self.stage.as_ref().map_or(0, |stage| stage.filled)
    }

    /// Total output an utterance has once flushed: delay plus the content.
    fn flushed_len(&self) -> u64 {
        let content = (self.consumed * u64::from(self.to_hz)).div_ceil(u64::from(self.from_hz));
        self.delay_samples() as u64 + content
    }
}

impl FftStage {
    fn new(from_hz: u32, to_hz: u32) -> Result<Self, ResampleError> {
        let chunk = (from_hz / 50) as usize; // 20 ms of input
        let resampler = Fft::<f32>::new_custom(
            from_hz as usize,
            to_hz as usize,
            chunk,
            SUB_CHUNKS,
            1,
            rubato::WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .map_err(|e| ResampleError::Construction(e.to_string()))?;
        let chunk_in = vec![0.0; resampler.input_frames_next()];
        let chunk_out = vec![0.0; resampler.output_frames_max()];
        Ok(Self {
            resampler,
            chunk_in,
            filled: 0,
            chunk_out,
            chunk_has_signal: false,
            silent_chunks: 0,
        })
    }

    /// Copies as much of `input` as fits into the chunk; returns how much.
    fn fill(&mut self, input: &[i16]) -> usize {
        let space = &mut self.chunk_in[self.filled..];
        let take = space.len().min(input.len());
        self.chunk_has_signal |= input[..take].iter().any(|&s| s != 0);
        for (dst, &src) in space.iter_mut().zip(&input[..take]) {
            *dst = i16_to_f32(src);
        }
        self.filled += take;
        take
    }

    fn is_full(&self) -> bool {
        self.filled == self.chunk_in.len()
    }

    /// Zero-fills the rest of the chunk.
    fn pad(&mut self) {
        self.chunk_in[self.filled..].fill(0.0);
        self.filled = self.chunk_in.len();
    }

    /// Resamples the full chunk into `out`; returns the samples appended.
    fn run(&mut self, out: &mut Vec<i16>) -> usize {
        self.filled = 0;
        if std::mem::take(&mut self.chunk_has_signal) {
            self.silent_chunks = 0;
        } else if self.silent_chunks >= SILENT_CHUNKS_FOR_SHORTCUT {
            // Digital silence (muted caller, µ-law 0xFF): the exact output
            // is zeros, at no cost.
            let produced = self.resampler.output_frames_next();
            out.resize(out.len() + produced, 0);
            return produced;
        } else {
            self.silent_chunks += 1;
        }
        let frames_in = self.chunk_in.len();
        let frames_out = self.chunk_out.len();
        let (Ok(input), Ok(mut output)) = (
            InterleavedSlice::new(&self.chunk_in[..], 1, frames_in),
            InterleavedSlice::new_mut(&mut self.chunk_out[..], 1, frames_out),
        ) else {
            return 0; // buffers are sized from the resampler itself
        };
        match self
            .resampler
            .process_into_buffer(&input, &mut output, None)
        {
            Ok((_, produced)) => {
                out.extend(self.chunk_out[..produced].iter().map(|&s| f32_to_i16(s)));
                produced
            }
            // Only wrong buffer sizes make rubato fail, and ours come from
            // the resampler; should it happen, keep the timeline with silence.
            Err(_) => {
                let produced = self.resampler.output_frames_next();
                out.resize(out.len() + produced, 0);
                produced
            }
        }
    }
}

#[cfg(test)]
#[path = "resample_tests.rs"]
mod tests;
