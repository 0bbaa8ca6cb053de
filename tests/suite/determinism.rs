//! The output never depends on threads, splits or in-place-ness.

use crate::common::{bits, inputs};
use dropkit::{Dropout, Isa, MaskOut, Site, Threading};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

#[test]
fn pools_of_1_2_3_threads_agree() {
    let n = 5 * 4096 * 16 + 1234; // well above PARALLEL_MIN
    let x = inputs(n, 77);
    for isa in Isa::available() {
        for offset in [0u64, 4093, (1 << 40) - 100] {
            let d = Dropout::new(0.25)
                .unwrap()
                .with_seed(3)
                .with_isa(isa)
                .unwrap();
            let mut outs = Vec::new();
            for threads in [1, 2, 3] {
                for threading in [Threading::Auto, Threading::Parallel, Threading::Sequential] {
                    let d = d.with_threading(threading);
                    let mut y = vec![0f32; n];
                    let mut m = vec![0u64; dropkit::mask_words(n)];
                    pool(threads).install(|| {
                        d.at(Site::new(9).at(offset))
                            .mask_out(MaskOut::Bits(&mut m))
                            .forward(&x, &mut y)
                            .unwrap()
                    });
                    outs.push((bits(&y), m));
                }
            }
            assert!(
                outs.windows(2).all(|w| w[0] == w[1]),
                "{isa:?} offset {offset}"
            );
        }
    }
}

#[test]
fn pieces_with_offsets_equal_the_whole() {
    let n = 3 * 4096 + 999;
    let x = inputs(n, 5);
    let d = Dropout::new(0.5).unwrap().with_seed(11);
    let mut whole = vec![0f32; n];
    d.at(Site::new(4).at(1000)).forward(&x, &mut whole).unwrap();
    // Arbitrary cut points, including ones inside a lane step and a block.
    for cuts in [
        vec![1, 2, 3],
        vec![15, 17, 4095, 4097, 8200],
        vec![7, 100, 5000, 12000, 12800],
    ] {
        for isa in Isa::available() {
            let d = d.with_isa(isa).unwrap();
            let mut pieces = vec![f32::NAN; n];
            let mut start = 0;
            for end in cuts.iter().copied().chain([n]) {
                d.at(Site::new(4).at(1000 + start as u64))
                    .forward(&x[start..end], &mut pieces[start..end])
                    .unwrap();
                start = end;
            }
            assert_eq!(bits(&pieces), bits(&whole), "{isa:?} cuts {cuts:?}");
        }
    }
}

#[test]
fn in_place_equals_out_of_place() {
    for n in [1, 4097, 70001] {
        let x = inputs(n, 9);
        for isa in Isa::available() {
            let d = Dropout::new(0.1).unwrap().with_isa(isa).unwrap();
            let mut y = vec![0f32; n];
            d.at(Site::new(2).at(33)).forward(&x, &mut y).unwrap();
            let mut z = x.clone();
            d.at(Site::new(2).at(33)).forward_in_place(&mut z).unwrap();
            assert_eq!(bits(&y), bits(&z), "{isa:?} n {n}");
        }
    }
}

#[test]
fn concurrent_calls_on_a_shared_dropout() {
    // `Dropout` is `Send + Sync` and stateless per call.
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Dropout>();
    let d = Dropout::new(0.3).unwrap().with_seed(8);
    let x = inputs(10_000, 4);
    let mut want = vec![0f32; x.len()];
    d.at(Site::new(6)).forward(&x, &mut want).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    let mut y = vec![0f32; x.len()];
                    d.at(Site::new(6)).forward(&x, &mut y).unwrap();
                    assert_eq!(bits(&y), bits(&want));
                }
            });
        }
    });
}
