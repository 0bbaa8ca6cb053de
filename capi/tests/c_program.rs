//! Runs the C side of the ABI: the header compiled as C11 (`-Wall -Wextra
//! -Werror`) and as C++, `tests/c/test_capi.c` and `examples/engine_loop.c`
//! built with the system C compiler against the static library and run
//! (`examples/install_check.cpp` as C++),
//! and the C program's printed outputs compared with the Rust crate's; the
//! shared library loaded from Python with ctypes (standard library only).
//!
//! The libraries are what `cargo build -p dropkit-capi` leaves in
//! `target/debug` (cargo does not build a `cdylib`/`staticlib` for tests):
//! build first, as `.ci/run` does.

use dropkit::half::{bf16, f16};
use dropkit::{mc_mean_var, Dropout, Element, Scaling, Site};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>`, where cargo put `libdropkit.a` and `libdropkit.so`.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(
        dir.join("libdropkit.a").exists() && dir.join("libdropkit.so").exists(),
        "no libraries in {}: run `cargo build -p dropkit-capi` first",
        dir.display()
    );
    dir
}

fn capi() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Compiles `source` against the static library into `name`, returns it.
fn build_c(source: &str, name: &str) -> PathBuf {
    let exe = lib_dir().join(name);
    run(Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-I"])
        .arg(capi().join("include"))
        .arg(capi().join(source))
        .arg(lib_dir().join("libdropkit.a"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe));
    exe
}

#[test]
fn header_compiles_as_c11_and_cxx() {
    let header = capi().join("include/dropkit.h");
    run(Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"])
        .arg(&header));
    run(Command::new("c++")
        .args([
            "-std=c++11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-x",
            "c++",
        ])
        .arg(&header));
}

fn words<E: Element + Copy>(v: &[E]) -> String {
    v.iter()
        .map(|x| {
            let size = std::mem::size_of::<E>();
            let mut bytes = [0u8; 8];
            // SAFETY: `x` is a plain value of `size` bytes.
            let raw = unsafe { std::slice::from_raw_parts((x as *const E).cast::<u8>(), size) };
            bytes[..size].copy_from_slice(raw);
            format!(" {:0width$x}", u64::from_le_bytes(bytes), width = 2 * size)
        })
        .collect()
}

/// What `outputs_<type>` in the C program prints, computed by the crate.
fn expected<E: Element + Copy>(name: &str, from: impl Fn(f32) -> E) -> String {
    let x: Vec<E> = (0..100).map(|i| from(i as f32 * 0.25 - 3.0)).collect();
    let r: Vec<E> = (0..100).map(|i| from((i % 7) as f32 * 0.5)).collect();
    let b: Vec<E> = (0..10).map(|i| from(i as f32 * 0.125)).collect();
    let d = Dropout::new(0.3).unwrap().with_seed(7);
    let c = d.with_scaling(Scaling::Classic);
    let site = Site::new(5).at(4090);
    let mut y = x.clone();
    let mut out = String::new();
    d.at(site).forward(&x, &mut y).unwrap();
    out += &format!("{name} forward:{}\n", words(&y));
    d.at(site)
        .bias(&b)
        .residual(&r)
        .forward(&x, &mut y)
        .unwrap();
    out += &format!("{name} fused:{}\n", words(&y));
    let (mut dx, mut db) = (x.clone(), b.clone());
    d.at(site).dbias(&mut db).backward(&x, &mut dx).unwrap();
    out += &format!("{name} dbias:{}\n", words(&db));
    c.inference(&x, &mut y).unwrap();
    out += &format!("{name} classic inference:{}\n", words(&y));
    let mut mc = vec![x[0]; 300];
    d.at(Site::new(9)).mc_forward(&x, &mut mc, 3).unwrap();
    out += &format!("{name} mc:{}\n", words(&mc));
    let (mut mean, mut var) = (x.clone(), x.clone());
    mc_mean_var(&mc, 100, &mut mean, &mut var).unwrap();
    out += &format!("{name} mean:{}\n", words(&mean));
    out += &format!("{name} var:{}\n", words(&var));
    out
}

#[test]
fn the_c_program_passes_and_prints_what_the_crate_computes() {
    let exe = build_c("tests/c/test_capi.c", "test_capi");
    let printed = run(&mut Command::new(&exe));
    assert!(printed.ends_with("all C checks passed\n"), "{printed}");
    let want = expected("f32", |v| v)
        + &expected("f64", f64::from)
        + &expected("f16", f16::from_f32)
        + &expected("bf16", bf16::from_f32)
        + "all C checks passed\n";
    assert_eq!(printed, want);
}

#[test]
fn the_engine_loop_example_runs() {
    let exe = build_c("examples/engine_loop.c", "engine_loop");
    let printed = run(&mut Command::new(&exe));
    assert!(printed.contains("engine loop done"), "{printed}");
    assert!(
        printed.contains(
            "refused as expected: a buffer or tensor has the wrong size: \
             wrong size: mask words (at least): expected 2, given 1"
        ),
        "{printed}"
    );
}

#[test]
fn the_cxx_install_check_runs() {
    let exe = lib_dir().join("install_check");
    run(Command::new("c++")
        .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-O1", "-I"])
        .arg(capi().join("include"))
        .arg(capi().join("examples/install_check.cpp"))
        .arg(lib_dir().join("libdropkit.a"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe));
    let printed = run(&mut Command::new(&exe));
    assert!(printed.starts_with("dropkit from C++"), "{printed}");
}

#[test]
fn python_loads_the_shared_library() {
    let Ok(python) = which_python() else {
        panic!("python3 is needed for the ctypes check");
    };
    let printed = run(Command::new(python)
        .arg(capi().join("tests/py/test_ctypes.py"))
        .arg(lib_dir().join("libdropkit.so")));
    assert!(printed.contains("ctypes checks passed"), "{printed}");
}

fn which_python() -> Result<&'static str, ()> {
    for p in ["python3", "python"] {
        if Command::new(p).arg("--version").output().is_ok() {
            return Ok(p);
        }
    }
    Err(())
}
