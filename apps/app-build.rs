//! Shared build script of every EL0 app: link with linker/app.ld, the apps'
//! own link unit (loaded by the kernel into the user window).
fn main() {
    let linker = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../linker");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg=-L{}", linker.display());
        println!("cargo:rustc-link-arg=-Tapp.ld");
    }
    println!("cargo:rerun-if-changed={}", linker.join("app.ld").display());
}
