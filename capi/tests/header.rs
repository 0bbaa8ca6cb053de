//! The checked-in `include/dropkit.h` is what cbindgen makes of the code
//! today; `DROPKIT_BLESS=1` rewrites it.

#[test]
fn header_is_up_to_date() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")).unwrap();
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen")
        .write(&mut fresh);
    let fresh = String::from_utf8(fresh).unwrap();
    let path = format!("{dir}/include/dropkit.h");
    if std::env::var_os("DROPKIT_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        fresh == checked_in,
        "include/dropkit.h is stale: run `DROPKIT_BLESS=1 cargo test -p dropkit-capi --test header`"
    );
}
