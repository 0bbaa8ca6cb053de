//! Gives the shared library a SONAME on ELF platforms: `libdropkit.so.0.M`
//! for version `0.M.x` (before 1.0 a minor version may break the ABI),
//! `libdropkit.so.N` from 1.0 on. `capi/install.sh` installs the file under
//! that name with the usual links.
//!
//! With `DROPKIT_BLESS` set, also rewrites `src/generated.rs` from
//! `gen/generate.rs` before the library compiles (so a changed table
//! regenerates even when the old file no longer compiles);
//! `tests/generated.rs` checks it otherwise.

#[path = "gen/generate.rs"]
#[allow(dead_code)]
mod generate;

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    let soname = if major == "0" {
        format!("libdropkit.so.0.{minor}")
    } else {
        format!("libdropkit.so.{major}")
    };
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(
        os.as_str(),
        "linux" | "freebsd" | "netbsd" | "openbsd" | "android"
    ) {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
    if std::env::var_os("DROPKIT_BLESS").is_some() {
        let path = "src/generated.rs";
        let fresh = generate::generate();
        if std::fs::read_to_string(path).ok().as_deref() != Some(fresh.as_str()) {
            std::fs::write(path, fresh).expect("writing src/generated.rs");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=gen/generate.rs");
    println!("cargo:rerun-if-env-changed=DROPKIT_BLESS");
}
