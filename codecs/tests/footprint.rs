//! Heap footprint per call: thousands of calls each hold a `Vad` and one or
//! two `StreamResampler`s, so their size is part of the capacity budget.
//! Measured with a counting global allocator (this test binary only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use switchboard_codecs::resample::StreamResampler;
use switchboard_codecs::vad::{Vad, VadConfig};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes still held by what `make` returns (after one 20 ms push).
fn heap_of<T>(make: impl FnOnce() -> T, warm: impl FnOnce(&mut T)) -> (isize, T) {
    let before = LIVE.load(Ordering::SeqCst);
    let mut value = make();
    warm(&mut value);
    (LIVE.load(Ordering::SeqCst) - before, value)
}

#[test]
fn per_call_audio_state_is_a_few_tens_of_kilobytes() {
    let pcm = [100i16; 960];
    for (from, to) in [(8000, 16000), (16000, 8000), (24000, 8000), (48000, 8000)] {
        let (bytes, rs) = heap_of(
            || StreamResampler::new(from, to).expect("supported pair"),
            |rs| rs.process(&pcm[..(from / 50) as usize], &mut Vec::with_capacity(1024)),
        );
        println!("StreamResampler {from}->{to}: {bytes} heap bytes");
        assert!(bytes < 48 * 1024, "{from}->{to}: {bytes} bytes");
        drop(rs);
    }
    let (bytes, vad) = heap_of(
        || Vad::new(VadConfig::default()).expect("default config is valid"),
        |vad| {
            vad.push(&pcm[..160]);
        },
    );
    println!(
        "Vad: {bytes} heap bytes + {} inline",
        std::mem::size_of_val(&vad)
    );
    assert!(bytes < 48 * 1024, "Vad: {bytes} bytes");
}
