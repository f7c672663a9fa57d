//! The conformance suite every destination passes, against a real S3 server (s3s-fs).

mod support;

use scopeflow_testkit::S3Server;
use scopeflow_transfer::conformance::{self, Harness};
use support::S3Test;

/// Runs `check` against a fresh server and destination (under a prefix, as most
/// deployments use one).
macro_rules! check {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(server) = S3Server::start() else {
                return;
            };
            let dest = server.destination("confocal-1");
            let backdoor = server.backdoor("confocal-1");
            let scratch = tempfile::tempdir().unwrap();
            let h = Harness {
                dest: &dest,
                backdoor: &backdoor,
                scratch: scratch.path(),
            };
            conformance::$name(&h).await;
        }
    };
}

check!(put_then_verify);
check!(put_is_atomic);
check!(put_twice_is_idempotent);
check!(put_conflict_is_refused);
check!(verify_detects_corruption);
check!(folder_put_then_verify);
check!(manifest_passes_sha256sum);
check!(manifest_repairs_a_torn_line);
check!(set_aside_then_send_again);
check!(index_is_replaced_whole);

/// All checks against one destination at the bucket root (no prefix), as a long-lived agent
/// would use it: they must not disturb each other, and the shared manifest still checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_checks_share_one_destination() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let dest = server.destination("");
    let backdoor = server.backdoor("");
    let scratch = tempfile::tempdir().unwrap();
    let h = Harness {
        dest: &dest,
        backdoor: &backdoor,
        scratch: scratch.path(),
    };
    conformance::put_then_verify(&h).await;
    conformance::put_is_atomic(&h).await;
    conformance::put_twice_is_idempotent(&h).await;
    conformance::put_conflict_is_refused(&h).await;
    conformance::verify_detects_corruption(&h).await;
    conformance::folder_put_then_verify(&h).await;
    conformance::manifest_passes_sha256sum(&h).await;
    conformance::manifest_repairs_a_torn_line(&h).await;
    conformance::set_aside_then_send_again(&h).await;
    conformance::index_is_replaced_whole(&h).await;
    conformance::manifest_passes_sha256sum(&h).await;
}
