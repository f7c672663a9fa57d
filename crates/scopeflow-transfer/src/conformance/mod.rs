//! The behaviour every [`Destination`] must show, as async checks each back-end's tests call.
//!
//! Kept beside the trait and always compiled, so every back-end (local, SFTP, S3) runs exactly
//! the same checks, from its own `tests/`. Each check panics with a message naming
//! the destination when the back-end falls short, and uses its own paths under the root
//! (`<check name>/…`), so the checks may share one destination.
//!
//! The checks see storage through the trait, except where a contract is about what the trait
//! cannot show (an observer during a put, damage behind its back): there they go through a
//! [`Backdoor`] the back-end's tests provide.
//!
//! ```no_run
//! # async fn run(root: &std::path::Path, scratch: &std::path::Path) {
//! use scopeflow_transfer::{LocalDestination, conformance::{self, Harness, LocalBackdoor}};
//! let dest = LocalDestination::new("nas", root);
//! let backdoor = LocalBackdoor::new(root);
//! let h = Harness { dest: &dest, backdoor: &backdoor, scratch };
//! conformance::put_then_verify(&h).await;
//! # }
//! ```

mod aside_checks;
mod backdoor;
mod fault_checks;
mod fixtures;
mod manifest_checks;
mod put_checks;

use std::path::Path;

use crate::{Destination, RelPath, TransferError};

pub use aside_checks::set_aside_then_send_again;
pub use backdoor::{Backdoor, LocalBackdoor};
pub use fault_checks::{FullStorage, full_storage_is_transient, unreachable_is_transient};
pub use manifest_checks::{
    index_is_replaced_whole, manifest_passes_sha256sum, manifest_repairs_a_torn_line,
};
pub use put_checks::{
    folder_put_then_verify, put_conflict_is_refused, put_is_atomic, put_then_verify,
    put_twice_is_idempotent, verify_detects_corruption,
};

/// What a check needs: the destination under test, a way around it, and a local folder
/// (not the destination's root) where the check writes the files it sends.
pub struct Harness<'a> {
    pub dest: &'a dyn Destination,
    pub backdoor: &'a dyn Backdoor,
    pub scratch: &'a Path,
}

impl Harness<'_> {
    fn who(&self) -> &str {
        self.dest.name()
    }
}

fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap_or_else(|e| panic!("the suite's own path {s:?} is invalid: {e}"))
}

fn expect_ok<T>(h: &Harness<'_>, what: &str, r: Result<T, TransferError>) -> T {
    r.unwrap_or_else(|e| panic!("destination {}: {what} failed: {e} ({e:?})", h.who()))
}
