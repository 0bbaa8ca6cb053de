//! "No call allocates": every operation on the calling thread, in every
//! element type, under a global allocator that counts. (Calls that go to
//! the rayon pool may allocate inside rayon; they are not counted here.)

use dropkit::half::{bf16, f16};
use dropkit::{
    mask_words, mc_mean_var, Dropout, DropoutLayer, Element, MaskIn, MaskOut, Site, Threading,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the test's own thread counts (the harness allocates on others).
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

// SAFETY: forwards to the system allocator, counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn every_call<E: Element + Copy>(d: Dropout, v: E) {
    let n = 5000;
    let x = vec![v; n];
    let mut y = x.clone();
    let mut words = vec![0u64; mask_words(n)];
    let mut bytes = vec![0u8; n];
    let mut rows = vec![v; 3 * n];
    let (mut mean, mut var) = (x.clone(), x.clone());
    let layer = DropoutLayer::new(d, 3);
    COUNTING.with(|c| c.set(true));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let site = Site::new(1).at(7);
    d.at(site).forward(&x, &mut y).unwrap();
    d.at(site).forward_in_place(&mut y).unwrap();
    d.at(site)
        .mask_out(MaskOut::Bits(&mut words))
        .forward(&x, &mut y)
        .unwrap();
    d.at(site)
        .mask_out(MaskOut::Bytes(&mut bytes))
        .forward(&x, &mut y)
        .unwrap();
    d.mask(site, MaskOut::Bits(&mut words), n).unwrap();
    d.mask(site, MaskOut::Bytes(&mut bytes), n).unwrap();
    d.at(site).backward(&x, &mut y).unwrap();
    d.at(Site::default())
        .mask_in(MaskIn::Bits(&words))
        .backward(&x, &mut y)
        .unwrap();
    d.at(Site::default())
        .mask_in(MaskIn::Bytes(&bytes))
        .backward_in_place(&mut y)
        .unwrap();
    d.inference(&x, &mut y).unwrap();
    d.at(Site::new(2)).mc_forward(&x, &mut rows, 3).unwrap();
    mc_mean_var(&rows, n, &mut mean, &mut var).unwrap();
    let h = layer.at(0).forward(&x, &mut y).unwrap();
    layer.replay(h).backward(&x, &mut y).unwrap();
    let _ = d.at(site).forward(&x, &mut y[1..]).unwrap_err();
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(false));
    assert_eq!(after - before, 0, "{} {d:?}", std::any::type_name::<E>());
}

#[test]
fn no_call_allocates_on_the_calling_thread() {
    // The AVX-512 layout is read from the environment once per process,
    // which allocates when DROPKIT_AVX512_LAYOUT is set (documented on
    // `avx512_layout`); settle it before counting.
    let _ = dropkit::avx512_layout();
    for threading in [Threading::Sequential, Threading::Auto] {
        for rate in [0.0, 0.3, 1.0] {
            let d = Dropout::new(rate).unwrap().with_threading(threading);
            every_call(d, 1.5f32);
            every_call(d, 1.5f64);
            every_call(d, f16::from_f32(1.5));
            every_call(d, bf16::from_f32(1.5));
        }
    }
}
