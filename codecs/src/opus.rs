//! Mono Opus at 8, 16 or 48 kHz (libopus through audiopus), for providers
//! and transports that speak Opus rather than G.711.
//!
//! Thin wrappers: they pin the channel count and the rates the engine uses,
//! and turn every libopus failure into [`OpusError`], since packets come off
//! the network and must never panic the call.

use audiopus::coder::{Decoder, Encoder};
use audiopus::packet::Packet;
use audiopus::{Application, Channels, MutSignals, SampleRate};

/// Opus failures.
#[derive(Debug, thiserror::Error)]
pub enum OpusError {
    #[error("unsupported Opus sample rate {0} Hz (use 8000, 16000 or 48000)")]
    UnsupportedRate(u32),
    #[error("empty Opus packet")]
    EmptyPacket,
    #[error("buffer too large for libopus")]
    BufferTooLarge,
    #[error("libopus: {0}")]
    Codec(#[from] audiopus::Error),
}

fn sample_rate(rate: u32) -> Result<SampleRate, OpusError> {
    match rate {
        8000 => Ok(SampleRate::Hz8000),
        16000 => Ok(SampleRate::Hz16000),
        48000 => Ok(SampleRate::Hz48000),
        other => Err(OpusError::UnsupportedRate(other)),
    }
}

/// A mono VoIP-tuned Opus encoder. `Send`.
pub struct OpusEncoder {
    inner: Encoder,
    rate: u32,
}

impl OpusEncoder {
    pub fn new(rate: u32) -> Result<Self, OpusError> {
        let inner = Encoder::new(sample_rate(rate)?, Channels::Mono, Application::Voip)?;
        Ok(Self { inner, rate })
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Encodes one frame (2.5, 5, 10, 20, 40 or 60 ms of `pcm`) into `out`;
    /// returns the packet length. Other lengths are an error from libopus.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, OpusError> {
        if pcm.len() > i32::MAX as usize || out.len() > i32::MAX as usize {
            return Err(OpusError::BufferTooLarge);
        }
        Ok(self.inner.encode(pcm, out)?)
    }
}

/// A mono Opus decoder. `Send`.
pub struct OpusDecoder {
    inner: Decoder,
    rate: u32,
}

impl OpusDecoder {
    pub fn new(rate: u32) -> Result<Self, OpusError> {
        let inner = Decoder::new(sample_rate(rate)?, Channels::Mono)?;
        Ok(Self { inner, rate })
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Decodes one packet into `out`; returns the samples written. `out`
    /// must hold the packet's frame (up to 120 ms at the decoder's rate).
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<usize, OpusError> {
        if packet.is_empty() {
            return Err(OpusError::EmptyPacket);
        }
        let packet = Packet::try_from(packet)?;
        let signals = MutSignals::try_from(out)?;
        Ok(self.inner.decode(Some(packet), signals, false)?)
    }

    /// Conceals one lost packet of `out.len()` samples (packet loss concealment).
    pub fn conceal(&mut self, out: &mut [i16]) -> Result<usize, OpusError> {
        let signals = MutSignals::try_from(out)?;
        Ok(self.inner.decode(None, signals, false)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tone(rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                (8000.0 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn round_trip_keeps_a_tone_at_8_16_and_48_khz() {
        for rate in [8000u32, 16000, 48000] {
            let frame = rate as usize / 50;
            let mut enc = OpusEncoder::new(rate).expect("supported rate");
            let mut dec = OpusDecoder::new(rate).expect("supported rate");
            let input = tone(rate, frame * 10);
            let mut decoded = Vec::new();
            let mut packet = [0u8; 1500];
            let mut pcm = vec![0i16; frame * 6];
            for chunk in input.chunks(frame) {
                let len = enc.encode(chunk, &mut packet).expect("20 ms frame encodes");
                assert!(len > 0 && len < 400, "rate {rate}: packet {len} bytes");
                let n = dec
                    .decode(&packet[..len], &mut pcm)
                    .expect("own packet decodes");
                assert_eq!(n, frame);
                decoded.extend_from_slice(&pcm[..n]);
            }
            // Opus adds a few ms of delay; compare levels after it settles.
            let settled = &decoded[frame * 4..];
            let level_in = crate::pcm::rms_dbfs(&input[frame * 4..]);
            let level_out = crate::pcm::rms_dbfs(settled);
            assert!(
                (level_in - level_out).abs() < 3.0,
                "rate {rate}: {level_in} dBFS in, {level_out} out"
            );
        }
    }

    #[test]
    fn unsupported_rates_and_bad_packets_are_errors() {
        assert!(matches!(
            OpusEncoder::new(44100),
            Err(OpusError::UnsupportedRate(44100))
        ));
        assert!(matches!(
            OpusDecoder::new(0),
            Err(OpusError::UnsupportedRate(0))
        ));
        let mut dec = OpusDecoder::new(16000).expect("supported rate");
        let mut out = [0i16; 320];
        assert!(matches!(
            dec.decode(&[], &mut out),
            Err(OpusError::EmptyPacket)
        ));
        let mut enc = OpusEncoder::new(16000).expect("supported rate");
        let mut packet = [0u8; 100];
        assert!(enc.encode(&[0; 123], &mut packet).is_err());
        assert!(dec.conceal(&mut out).is_ok());
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(
            packet in proptest::collection::vec(any::<u8>(), 0..300),
            out_len in 0usize..2000,
        ) {
            let mut dec = OpusDecoder::new(8000).expect("supported rate");
            let mut out = vec![0i16; out_len];
            if let Ok(n) = dec.decode(&packet, &mut out) {
                prop_assert!(n <= out_len);
            }
        }

        #[test]
        fn encoding_arbitrary_lengths_never_panics(
            pcm in proptest::collection::vec(any::<i16>(), 0..1000),
            out_len in 0usize..500,
        ) {
            let mut enc = OpusEncoder::new(8000).expect("supported rate");
            let mut out = vec![0u8; out_len];
            if let Ok(n) = enc.encode(&pcm, &mut out) {
                prop_assert!(n <= out_len);
            }
        }
    }
}
