//! The Windows (MinGW) build is one self-contained .exe: `-static` makes the GNU toolchain's
//! own libraries (libgcc, libstdc++, winpthreads) part of it, so no DLL of theirs has to be
//! copied beside it; the Windows system DLLs stay dynamic (they are import libraries).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.contains("windows") && target.ends_with("-gnu") {
        println!("cargo:rustc-link-arg-bins=-static");
    }
}
