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
