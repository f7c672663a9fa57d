//! The dashboard in a real browser (headless Chromium): every page loads, shows the data the
//! test sent, and logs nothing to the console.

mod common;

use std::path::PathBuf;

use common::{Backend, Env, batch, ev, lifecycle};
use serde_json::json;

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SCOPEFLOW_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
    })
}

/// The rendered DOM of `url` and the browser's log.
async fn render(browser: &PathBuf, url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            // Lets the page's fetches finish before the DOM is dumped.
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", browser.display()));
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium on {url} failed: {log}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), log)
}

fn console_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Failed to load resource")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_the_data_in_chromium() {
    let Some(browser) = chromium() else {
        if std::env::var("SCOPEFLOW_SKIP_CHROMIUM").as_deref() == Ok("1") {
            return;
        }
        panic!(
            "Chromium not found: install it with `apt-get install -y chromium` or set SCOPEFLOW_CHROMIUM \
             (SCOPEFLOW_SKIP_CHROMIUM=1 skips this test)"
        );
    };
    let env = Env::new(Backend::Sqlite).await;
    let now = chrono::Utc::now();
    let day = now.format("%Y-%m-%d").to_string();
    let acquired = format!("{day}T08:00:00Z");
    let mut events = lifecycle(
        "d1",
        "alice/<b>cells</b>.tif",
        3 << 20,
        "LSM 980",
        &acquired,
        &[("DAPI", 21.0, 0.0), ("GFP", 5.0, 0.02)],
        &day,
    );
    events.extend(lifecycle(
        "d2",
        "bob/tissue.tif",
        5 << 20,
        "LSM 980",
        &acquired,
        &[("DAPI", 17.0, 0.0), ("GFP", 6.0, 0.0)],
        &day,
    ));
    events.push(ev(
        "d3",
        &format!("{day}T09:00:00Z"),
        "carol/broken.tif",
        10,
        "quarantined",
        json!({"error": "not a TIFF: bad magic"}),
    ));
    events.push(ev(
        "d4",
        &format!("{day}T09:00:00Z"),
        "carol/locked.tif",
        10,
        "failed",
        json!({"error": "file locked", "attempts": 2}),
    ));
    events.push(ev(
        "d5",
        &format!("{day}T11:00:00Z"),
        "bob/tissue.tif",
        5 << 20,
        "kept",
        json!({"reason": "mesocentre: no verified copy"}),
    ));
    env.ingest(&batch("scope-1", events)).await;

    let page = |hash: &str| format!("{}/?token={}#{hash}", env.base, env.viewer);
    let cases: [(&str, &[&str]); 5] = [
        (
            "overview",
            &["scope-1", "pc-7", "files verified", "<svg", "QC alarms"],
        ),
        (
            "files",
            &[
                "alice/&lt;b&gt;cells&lt;/b&gt;.tif",
                "bob/tissue.tif",
                "LSM 980",
            ],
        ),
        ("qc", &["Saturation alarms", "GFP", "alarm-dot", "LSM 980"]),
        (
            "retention",
            &["reclaimable", "8.0 MiB", "mesocentre: no verified copy"],
        ),
        (
            "failures",
            &["not a TIFF: bad magic", "file locked", "carol/broken.tif"],
        ),
    ];
    for (hash, wanted) in cases {
        let (dom, log) = render(&browser, &page(hash)).await;
        assert!(
            dom.contains("data-state=\"ready\""),
            "#{hash} did not finish loading:\n{dom}\n{log}"
        );
        for w in wanted {
            assert!(dom.contains(w), "#{hash} lacks {w:?}:\n{dom}");
        }
        assert!(!dom.contains("<b>cells</b>"), "file names are escaped");
        assert_eq!(
            console_lines(&log),
            Vec::<&str>::new(),
            "#{hash}: console messages"
        );
    }
    // The SVG bars of the overview carry the numbers the test sent.
    let (dom, _) = render(&browser, &page("overview")).await;
    assert!(dom.contains("files verified"), "{dom}");
    assert!(dom.matches("class=\"bar\"").count() >= 3, "{dom}");

    // Without a token the page asks for one instead of failing.
    let (dom, log) = render(&browser, &format!("{}/#overview", env.base)).await;
    assert!(dom.contains("data-state=\"login\""), "{dom}");
    assert!(dom.contains("token create --viewer"), "{dom}");
    assert_eq!(console_lines(&log), Vec::<&str>::new());
}
