//! `SftpDestination` against a real OpenSSH sshd on 127.0.0.1 runs the whole conformance suite
//! the local destination passes, reading back over SFTP and, separately, with `sha256sum` run
//! on the server (`remote_sha256`).

#![cfg(unix)]

mod support;

use scopeflow_sftp::SftpDestination;
use scopeflow_testkit::Sshd;
use scopeflow_transfer::conformance::{self, Harness, LocalBackdoor};
use support::SftpSshd;

struct Setup {
    sshd: Sshd,
    dest: SftpDestination,
    backdoor: LocalBackdoor,
}

fn setup(remote_sha256: bool) -> Option<Setup> {
    let sshd = Sshd::start()?;
    let mut cfg = sshd.config("meso");
    cfg.remote_sha256 = remote_sha256;
    Some(Setup {
        dest: SftpDestination::new(cfg),
        // sshd serves a local folder: the suite watches and damages it directly.
        backdoor: LocalBackdoor::new(&sshd.root),
        sshd,
    })
}

impl Setup {
    fn harness(&self) -> Harness<'_> {
        Harness {
            dest: &self.dest,
            backdoor: &self.backdoor,
            scratch: &self.sshd.scratch,
        }
    }
}

macro_rules! suite {
    ($($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(s) = setup(false) else { return };
                conformance::$check(&s.harness()).await;
            }
        )*
    };
}

suite!(
    put_then_verify,
    put_is_atomic,
    put_twice_is_idempotent,
    put_conflict_is_refused,
    verify_detects_corruption,
    folder_put_then_verify,
    manifest_passes_sha256sum,
    manifest_repairs_a_torn_line,
    set_aside_then_send_again,
    index_is_replaced_whole,
);

async fn all_checks(h: &Harness<'_>) {
    conformance::put_then_verify(h).await;
    conformance::put_is_atomic(h).await;
    conformance::put_twice_is_idempotent(h).await;
    conformance::put_conflict_is_refused(h).await;
    conformance::verify_detects_corruption(h).await;
    conformance::folder_put_then_verify(h).await;
    conformance::manifest_passes_sha256sum(h).await;
    conformance::manifest_repairs_a_torn_line(h).await;
    conformance::set_aside_then_send_again(h).await;
    conformance::index_is_replaced_whole(h).await;
    conformance::manifest_passes_sha256sum(h).await;
}

/// All checks against one destination, as a long-lived agent uses it (connections reused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_checks_share_one_destination() {
    let Some(s) = setup(false) else { return };
    all_checks(&s.harness()).await;
    assert!(
        !s.sshd
            .root
            .join("manifest-sha256.txt")
            .metadata()
            .unwrap()
            .permissions()
            .readonly()
    );
}

/// The same checks when copies are hashed by `sha256sum` on the server instead of read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_checks_with_remote_sha256() {
    let Some(s) = setup(true) else { return };
    all_checks(&s.harness()).await;
}

/// One connection at a time works too (`parallel: 1`), folders included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_checks_with_one_connection() {
    let Some(sshd) = Sshd::start() else { return };
    let mut cfg = sshd.config("meso");
    cfg.parallel = 1;
    let dest = SftpDestination::new(cfg);
    let backdoor = LocalBackdoor::new(&sshd.root);
    let h = Harness {
        dest: &dest,
        backdoor: &backdoor,
        scratch: &sshd.scratch,
    };
    all_checks(&h).await;
}
