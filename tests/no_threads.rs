//! A process that cannot start threads must not panic: rayon's global pool
//! panics when it cannot spawn its workers, and dropkit then stays on the
//! calling thread. The test re-runs itself as a child whose address space
//! is capped below one thread stack (`RUST_MIN_STACK` = 1 GiB), so that
//! every thread spawn fails, as at a thread limit.
#![cfg(all(target_os = "linux", feature = "rayon"))]

use dropkit::{Dropout, Site, Threading};

fn vm_size_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn calls_fall_back_to_the_calling_thread_when_no_thread_starts() {
    if std::env::var_os("DROPKIT_NO_THREADS_CHILD").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "calls_fall_back_to_the_calling_thread_when_no_thread_starts",
            ])
            .args(["--test-threads=1", "--nocapture"])
            .env("DROPKIT_NO_THREADS_CHILD", "1")
            .env("RUST_MIN_STACK", (1u64 << 30).to_string())
            .env_remove("RAYON_NUM_THREADS")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{text}");
        assert!(
            text.contains("no thread could start"),
            "child did not run:\n{text}"
        );
        return;
    }
    // The child: everything it needs is allocated before the cap.
    let n = 1 << 20;
    let x: Vec<f32> = (0..n).map(|i| (i % 100) as f32).collect();
    let (mut y, mut want) = (vec![0f32; n], vec![0f32; n]);
    let mut rows = vec![0f32; 4 * 1000];
    let d = Dropout::new(0.3).unwrap().with_seed(5);
    d.with_threading(Threading::Sequential)
        .at(Site::new(1))
        .forward(&x, &mut want)
        .unwrap();
    let cap = vm_size_bytes() + (256 << 20);
    let limit = libc::rlimit {
        rlim_cur: cap,
        rlim_max: cap,
    };
    // SAFETY: setrlimit reads the struct passed by reference.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
    assert!(
        std::thread::Builder::new().spawn(|| ()).is_err(),
        "the cap should stop threads"
    );
    for threading in [Threading::Auto, Threading::Parallel] {
        d.with_threading(threading)
            .at(Site::new(1))
            .forward(&x, &mut y)
            .unwrap();
        assert_eq!(y, want, "{threading:?}");
    }
    d.at(Site::new(2))
        .mc_forward(&x[..1000], &mut rows, 4)
        .unwrap();
    println!("no thread could start, and every call ran on the calling thread");
}
