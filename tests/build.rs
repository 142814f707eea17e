//! Writes the Rust items of `docs/equations.md` as `use` declarations into `OUT_DIR`, so that the
//! `equations_index` test compiles only when every item the index names exists.

#[path = "src/index.rs"]
#[allow(dead_code)]
mod index;

fn main() {
    // The directory cargo names when it runs the script, not the one it was compiled in: a
    // target directory shared between checkouts at different paths reuses the compiled script.
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let md_path = std::path::Path::new(&manifest_dir).join("../docs/equations.md");
    println!("cargo:rerun-if-changed={}", md_path.display());
    println!("cargo:rerun-if-changed=src/index.rs");
    let md = std::fs::read_to_string(&md_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", md_path.display()));
    let rows = index::parse(&md).unwrap_or_else(|errors| {
        panic!("docs/equations.md: {}", errors.join("; "));
    });
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("index_items.rs");
    std::fs::write(&out, index::item_checks(&rows))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
