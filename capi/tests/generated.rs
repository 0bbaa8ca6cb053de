//! The checked-in `src/generated.rs` is what `gen/generate.rs` makes of its
//! table today; `DROPKIT_BLESS=1` rewrites it (so does `build.rs`, before
//! the library compiles, when the table changed the signatures).

#[path = "../gen/generate.rs"]
mod generate;

#[test]
fn generated_code_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/generated.rs");
    let fresh = generate::generate();
    if std::env::var_os("DROPKIT_BLESS").is_some() {
        std::fs::write(path, &fresh).unwrap();
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        fresh == checked_in,
        "src/generated.rs is stale: run `DROPKIT_BLESS=1 cargo test -p dropkit-capi --test generated`"
    );
}

#[test]
fn every_operation_has_every_type() {
    let text = generate::generate();
    for op in generate::OPS {
        assert!(text.contains(&format!("fn dk_{}(", op.name)));
        for ty in &generate::TYPES {
            assert!(text.contains(&format!("fn dk_{}_{}(", op.name, ty.suffix)));
        }
    }
}

/// The project's rule, as `tests/suite/architecture.rs` checks it for the main
/// crate: no hand-written source file of `src/` over 450 lines (the
/// generated one, one table's output, excepted).
#[test]
fn source_files_stay_small() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 1, "no sources found under {}", src.display());
    let mut problems = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "generated.rs" {
            continue;
        }
        let lines = std::fs::read_to_string(file).unwrap().lines().count();
        if lines > 450 {
            problems.push(format!("capi/src/{rel}: {lines} lines (limit 450)"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
