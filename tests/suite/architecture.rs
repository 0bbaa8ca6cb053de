//! The layering ARCHITECTURE.md describes, checked on the source: every
//! `crate::` path in code (not in comments) of a module names a module of its
//! own layer or a lower one, and no source file is over 450 lines.

use std::fs;
use std::path::Path;

/// The layer of a module path under `src/` (`arch/avx2.rs` -> `arch`).
fn layer(module: &str) -> Option<u8> {
    let top = module.split(['/', ':']).next().unwrap_or(module);
    Some(match top {
        "num" | "philox" | "limits" | "error" | "isa" => 0,
        "kernel" => 1,
        "arch" => 2,
        "config" | "element" | "layout" | "view" | "mask_shape" | "site" | "rule" => 3,
        "ops" | "backward" | "fused" | "shaped_call" | "mc" | "plan" | "driver" => 4,
        "call" | "run" | "tensor" | "layer" | "ndarray_views" | "bench" | "lib" => 5,
        _ => return None,
    })
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn dependencies_point_down_and_files_stay_small() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = rel.trim_end_matches(".rs").trim_end_matches("/mod");
        let text = fs::read_to_string(file).unwrap();
        let lines = text.lines().count();
        if lines > 450 {
            problems.push(format!("{rel}: {lines} lines (limit 450)"));
        }
        let Some(own) = layer(module) else {
            problems.push(format!(
                "{rel}: not in any layer of tests/suite/architecture.rs"
            ));
            continue;
        };
        for (no, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // Items re-exported at the root (`crate::Error`) and macros
                // exported by the kernel layer resolve to their module.
                let target = match name.as_str() {
                    "Error" => "error",
                    "Dropout" | "Threading" | "Scaling" => "config",
                    "Element" => "element",
                    "Isa" => "isa",
                    n if n.is_empty() || n.chars().next().unwrap().is_uppercase() => continue,
                    n => n,
                };
                match layer(target) {
                    Some(l) if l <= own => {}
                    Some(l) => problems.push(format!(
                        "{rel}:{}: layer {own} module uses `crate::{name}` of layer {l}",
                        no + 1
                    )),
                    None => {}
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
