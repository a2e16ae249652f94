//! `cfg(journal)`: the journal is built when its feature is on and the target is Unix (it needs
//! `flock`, `pwrite` and file modes); elsewhere `--spool` is refused at start, naming why.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(journal)");
    let unix = std::env::var_os("CARGO_CFG_UNIX").is_some();
    if unix && std::env::var_os("CARGO_FEATURE_JOURNAL").is_some() {
        println!("cargo::rustc-cfg=journal");
    }
}
