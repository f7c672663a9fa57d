//! glibc's malloc returns a freed block of a few MiB to the kernel (a block above its mmap
//! threshold is unmapped; free memory at the top of a heap above its trim threshold is given
//! back), so the next plane's buffer of the same size is faulted in again, page by page,
//! zero-filled by the kernel. Converting a 1 GiB CZI took 300,000-480,000 page faults that
//! way; raising both thresholds to 64 MiB keeps such buffers for reuse: 18,000 faults and
//! about 10% less wall time (BENCHMARKS.md, "Allocator and CZI decoding"). Memory stays bounded: at
//! most 64 MiB of free memory is kept at the top of each heap, and blocks of 64 MiB or more
//! (planes of huge images) are still mapped and unmapped each time.

/// Bytes above which a block is mapped on its own and free memory is given back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const THRESHOLD: libc::c_int = 64 << 20;

/// Sets the thresholds, unless the operator tunes malloc through `GLIBC_TUNABLES`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn keep_large_buffers() {
    if std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.")) {
        return;
    }
    #[allow(
        unsafe_code,
        reason = "mallopt has no safe wrapper; it only sets two integers"
    )]
    // SAFETY: called first thing in the command's `main`, before any other thread exists;
    // mallopt takes plain integers and fails (returns 0) rather than misbehaving on a bad value.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, THRESHOLD);
    }
}

/// Other allocators (Windows' heap, musl's) keep their defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_large_buffers() {}
