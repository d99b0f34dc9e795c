//! G.711 companding: µ-law (what Twilio Media Streams carry) and A-law.
//!
//! Bit-exact with PROTOCOLS.md section 7: the µ-law encoder is the
//! Reese/CCITT form used by Asterisk on full 16-bit input (not Sun's
//! `g711.c`, which drops two bits first and so differs on some negative
//! inputs); the A-law codec follows Sun's `g711.c`. Decoding goes through
//! 256-entry tables built at compile time, so the per-frame path is a table
//! lookup per sample and never allocates.

/// µ-law code for digital silence (+0). 20 ms of silence is 160 of these.
pub const ULAW_SILENCE: u8 = 0xFF;
/// A-law code for the smallest positive value (+8); A-law has no exact zero.
pub const ALAW_SILENCE: u8 = 0xD5;

/// Largest magnitude the µ-law encoder distinguishes; louder input clips.
const ULAW_CLIP: i32 = 32635;
/// Bias added before finding the segment, so segment edges are powers of two.
const ULAW_BIAS: i32 = 0x84;

/// µ-law decode table for all 256 codes.
static ULAW_TABLE: [i16; 256] = build_ulaw_table();
/// A-law decode table for all 256 codes.
static ALAW_TABLE: [i16; 256] = build_alaw_table();

const fn ulaw_decode_const(byte: u8) -> i16 {
    let u = !byte;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_decode_const(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let segment = ((a & 0x70) >> 4) as i32;
    t = match segment {
        0 => t + 8,
        1 => t + 0x108,
        _ => (t + 0x108) << (segment - 1),
    };
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build_ulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_decode_const(i as u8);
        i += 1;
    }
    table
}

const fn build_alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_decode_const(i as u8);
        i += 1;
    }
    table
}

/// Encodes one 16-bit sample to µ-law (Reese/CCITT form, no zero trap).
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    let s = i32::from(sample);
    let sign: u8 = if s < 0 { 0x80 } else { 0 };
    let magnitude = s.abs().min(ULAW_CLIP) + ULAW_BIAS;
    // magnitude is in 132..=32767, so its top set bit is bit 7..=14.
    let exponent = (31 - magnitude.leading_zeros()) as i32 - 7;
    let mantissa = ((magnitude >> (exponent + 3)) & 0x0F) as u8;
    !(sign | ((exponent as u8) << 4) | mantissa)
}

/// Decodes one µ-law byte; values run from -32124 to +32124.
#[inline]
pub fn ulaw_decode(byte: u8) -> i16 {
    ULAW_TABLE[usize::from(byte)]
}

/// Encodes one 16-bit sample to A-law (Sun `g711.c`, on the top 13 bits).
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    // Sun's linear2alaw works on 13-bit input; the arithmetic shift keeps the
    // sign, and `!x` rather than `-x` maps negatives symmetrically (-1 -> 0).
    let mut pcm = i32::from(sample) >> 3;
    let mask: u8 = if pcm >= 0 {
        0xD5
    } else {
        pcm = !pcm;
        0x55
    };
    // Segment upper bounds of the 13-bit magnitude.
    const SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let segment = SEG_END.iter().position(|&end| pcm <= end);
    let Some(segment) = segment else {
        return 0x7F ^ mask;
    };
    let mut code = (segment as u8) << 4;
    code |= if segment < 2 {
        ((pcm >> 1) & 0x0F) as u8
    } else {
        ((pcm >> segment) & 0x0F) as u8
    };
    code ^ mask
}

/// Decodes one A-law byte; values run from -32256 to +32256.
#[inline]
pub fn alaw_decode(byte: u8) -> i16 {
    ALAW_TABLE[usize::from(byte)]
}

/// Decodes `min(src.len(), dst.len())` µ-law bytes into `dst`; returns the count.
pub fn ulaw_decode_into(src: &[u8], dst: &mut [i16]) -> usize {
    let n = src.len().min(dst.len());
    for (out, &byte) in dst[..n].iter_mut().zip(&src[..n]) {
        *out = ULAW_TABLE[usize::from(byte)];
    }
    n
}

/// Encodes `min(src.len(), dst.len())` samples into µ-law; returns the count.
pub fn ulaw_encode_into(src: &[i16], dst: &mut [u8]) -> usize {
    let n = src.len().min(dst.len());
    for (out, &sample) in dst[..n].iter_mut().zip(&src[..n]) {
        *out = ulaw_encode(sample);
    }
    n
}

/// Decodes `min(src.len(), dst.len())` A-law bytes into `dst`; returns the count.
pub fn alaw_decode_into(src: &[u8], dst: &mut [i16]) -> usize {
    let n = src.len().min(dst.len());
    for (out, &byte) in dst[..n].iter_mut().zip(&src[..n]) {
        *out = ALAW_TABLE[usize::from(byte)];
    }
    n
}

/// Encodes `min(src.len(), dst.len())` samples into A-law; returns the count.
pub fn alaw_encode_into(src: &[i16], dst: &mut [u8]) -> usize {
    let n = src.len().min(dst.len());
    for (out, &sample) in dst[..n].iter_mut().zip(&src[..n]) {
        *out = alaw_encode(sample);
    }
    n
}

#[cfg(test)]
#[path = "g711_tests.rs"]
mod tests;
