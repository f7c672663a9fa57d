//! An event the central server refuses for its content (HTTP 400) is set aside with the
//! server's reason instead of blocking the outbox forever. The trigger is real: a Unix file
//! name holding `\..\`, which the server refuses as a path climbing out of its folder on
//! Windows (and which no destination takes either: the file is quarantined at once).
//!
//! Unix only: `\` is a separator in Windows file names.

#![cfg(unix)]

use serde_json::Value;

use crate::server::{Server, files_of, free_port, pipeline, token};
use crate::util::*;

sftest!(
    refused_events_are_set_aside_and_the_rest_goes_on,
    |dir: Dir| {
        let db = format!("sqlite://{}", dir.join("server.db").display());
        dir.create("agent.token", token(&db, &["--agent", "confocal-7"]) + "\n");
        let viewer = token(&db, &["--viewer"]);
        let port = free_port();
        let cfg = pipeline(&dir, port);
        let server = Server::start(&db, port, &dir.join("server.log"));
        let poison = "day1/x\\..\\poison.tif";
        std::fs::copy(SYNTH_F.path(), dir.join("acquisitions").join(poison)).expect("copy");
        std::fs::copy(SYNTH_A.path(), dir.join("acquisitions/day1/good.tif")).expect("copy");

        // A second run sends what the first one's last report had no time for.
        scopeflow(args!["agent", "--config", &cfg, "--once"]).exit(1);
        scopeflow(args!["agent", "--config", &cfg, "--once"]).exit(1);

        let files = files_of(&server.url, &viewer);
        let good = files.iter().find(|f| f["path"] == "day1/good.tif");
        assert!(
            good.is_some_and(|f| f["state"] == "verified"),
            "the good file's events must arrive despite the refused ones: {files:#?}"
        );
        assert!(
            files.iter().all(|f| f["path"] != poison),
            "the server holds the refused file: {files:#?}"
        );
        let status = scopeflow(args!["status", "--config", &cfg, "--json"])
            .success()
            .stdout_json();
        let rejected = status["rejected_events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let kinds: Vec<&str> = rejected.iter().filter_map(|e| e["kind"].as_str()).collect();
        assert!(
            kinds.contains(&"found") && kinds.contains(&"quarantined"),
            "the poison file's events are listed as rejected: {status:#}"
        );
        for e in &rejected {
            let reason = e["reason"].as_str().unwrap_or_default();
            assert!(
                reason.contains("400") && reason.contains("file.path"),
                "a rejected event without the server's reason: {e}"
            );
        }
        // Locally the poison file is quarantined at once (no destination takes a `\` in a name).
        let local: Vec<&Value> = status["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["path"] == poison)
            .collect();
        assert!(
            local.len() == 1 && local[0]["state"] == "quarantined" && local[0]["attempts"] == 1,
            "{status:#}"
        );

        // Nothing is resent: a third run leaves the rejected list as it was.
        scopeflow(args!["agent", "--config", &cfg, "--once"]).exit(1);
        let again = scopeflow(args!["status", "--config", &cfg, "--json"])
            .success()
            .stdout_json();
        assert_eq!(again["rejected_events"], status["rejected_events"]);
    }
);
