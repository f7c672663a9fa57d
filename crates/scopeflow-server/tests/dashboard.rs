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

/// The browser to test with; `None` only when SCOPEFLOW_SKIP_CHROMIUM=1 asks to skip.
fn browser_or_skip() -> Option<PathBuf> {
    if let Some(b) = chromium() {
        return Some(b);
    }
    if std::env::var("SCOPEFLOW_SKIP_CHROMIUM").as_deref() == Ok("1") {
        return None;
    }
    panic!(
        "Chromium not found: install it with `apt-get install -y chromium` or set SCOPEFLOW_CHROMIUM \
         (SCOPEFLOW_SKIP_CHROMIUM=1 skips this test)"
    );
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
    let Some(browser) = browser_or_skip() else {
        return;
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

/// Issue 20: values from agents (and from databases written before values were typed) never
/// become elements. Every text field the server accepts carries markup, the QC document of one
/// file is replaced in the database by one whose numbers are markup, and every page is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_never_become_elements_in_chromium() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    // A real element serialises its attributes quoted (`<img src="x"`); the text of a value,
    // escaped in content or kept in an attribute, never does.
    const IMG: &str = "<img src=x onerror=alert(1)>";
    const SVG: &str = "<svg onload=alert(2)>";
    let mut env = Env::new(Backend::Sqlite).await;
    let agent = format!("scope{IMG}");
    env.agent = env.token(&agent).await;
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let at = |h: u32| format!("{day}T{h:02}:00:00Z");
    let path = format!("alice/{IMG}{SVG}.tif");
    let gfp = format!("GFP {SVG}");
    let mut doc = common::qc_doc(&format!("LSM {IMG}"), &at(8), &[(gfp.as_str(), 5.0, 0.02)]);
    doc["inspect"]["metadata"] = json!({ "user": IMG, "note": SVG });
    let events = vec![
        ev("h1", &at(9), &path, 10, "found", json!({})),
        ev("h2", &at(10), &path, 10, "processed", json!({ "qc": doc })),
        ev(
            "h3",
            &at(11),
            &path,
            10,
            "copy_verified",
            json!({"destination": format!("nas{IMG}"), "verified_at": at(11)}),
        ),
        ev("h4", &at(12), &path, 10, "verified", json!({})),
        ev("h5", &at(13), &path, 10, "kept", json!({ "reason": IMG })),
        ev(
            "h6",
            &at(9),
            &format!("b/{SVG}.tif"),
            10,
            "failed",
            json!({"error": IMG, "attempts": 1}),
        ),
        ev(
            "h7",
            &at(9),
            "c/q.tif",
            10,
            "quarantined",
            json!({ "error": SVG }),
        ),
        ev(
            "h8",
            &at(9),
            "c/q.tif",
            10,
            "copy_invalid",
            json!({"destination": "nas", "error": IMG}),
        ),
    ];
    let mut b = batch(&agent, events);
    b["host"] = json!(format!("pc{IMG}"));
    env.ingest(&b).await;
    let files = env
        .get(&format!("/api/files?agent={}", urlencode(&agent)))
        .await;
    let id = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path.as_str())
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    // A QC document the old server accepted: strings where numbers belong.
    let poisoned =
        json!({"channels": [{"index": IMG, "name": null, "snr": SVG, "saturation_fraction": IMG}]});
    let pool = sqlx::AnyPool::connect(&env.db).await.unwrap();
    sqlx::query("UPDATE file_docs SET qc = $1 WHERE file_id = $2")
        .bind(poisoned.to_string())
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    env.restart().await;

    let page = |hash: &str| format!("{}/?token={}#{hash}", env.base, env.viewer);
    let file = format!("file/{id}");
    for hash in [
        "overview",
        "files",
        "qc",
        "retention",
        "failures",
        file.as_str(),
    ] {
        let (dom, log) = render(&browser, &page(hash)).await;
        assert!(
            dom.contains("data-state=\"ready\""),
            "#{hash}:\n{dom}\n{log}"
        );
        assert!(
            dom.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "#{hash} shows the value as text:\n{dom}"
        );
        for element in ["<img src=\"x\"", "<svg onload=\""] {
            assert!(!dom.contains(element), "#{hash} created {element}:\n{dom}");
        }
        assert_eq!(console_lines(&log), Vec::<&str>::new(), "#{hash}: console");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Issue 16: the file page offers both repository exports and links to the file's notebook
/// experiment; a notebook "URL" that is not http(s) (an agent is not trusted) is no link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_page_links_the_notebook_and_offers_exports_in_chromium() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    const ELN: &str = "https://eln.lab.example/experiments.php?mode=view&id=42";
    let env = Env::new(Backend::Sqlite).await;
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let mut events = Vec::new();
    for (prefix, path, eln) in [
        ("e1", "alice/linked.tif", ELN),
        ("e2", "alice/hostile.tif", "javascript:alert(1)"),
    ] {
        let mut life = lifecycle(
            prefix,
            path,
            10,
            "LSM",
            &format!("{day}T08:00:00Z"),
            &[("DAPI", 9.0, 0.0)],
            &day,
        );
        life[1]["data"]["qc"]["metadata"] = json!({"eln_url": eln, "license": "CC-BY-4.0"});
        life[1]["data"]["qc"]["naming"] = json!({"mode": "warn", "ok": false, "problems": [{"rule": "characters"}, {"rule": "date"}]});
        events.extend(life);
    }
    env.ingest(&batch("scope-1", events)).await;
    let files = env.get("/api/files").await;
    let id = |p: &str| {
        files["files"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["path"] == p))
            .map(|f| f["id"].to_string())
            .unwrap_or_else(|| panic!("{p} missing: {files}"))
    };
    let page = |id: String| format!("{}/?token={}#file/{id}", env.base, env.viewer);

    let (dom, log) = render(&browser, &page(id("alice/linked.tif"))).await;
    assert!(dom.contains("data-state=\"ready\""), "{dom}\n{log}");
    let link =
        "id=\"eln-link\" href=\"https://eln.lab.example/experiments.php?mode=view&amp;id=42\"";
    assert!(dom.contains(link), "no notebook link:\n{dom}");
    assert!(
        dom.contains("breaks naming rules: characters, date"),
        "no naming verdict:\n{dom}"
    );
    assert!(
        dom.contains("DataCite JSON") && dom.contains("Dublin Core XML"),
        "{dom}"
    );
    assert_eq!(console_lines(&log), Vec::<&str>::new());

    // A search is a dataset: the files page offers its records with the same filters.
    let (dom, log) = render(
        &browser,
        &format!(
            "{}/?token={}#files?folder=alice&q=linked",
            env.base, env.viewer
        ),
    )
    .await;
    assert!(dom.contains("data-state=\"ready\""), "{dom}\n{log}");
    let path = "data-path=\"/api/datasets/datacite.json?folder=alice&amp;q=linked\"";
    assert!(
        dom.contains(path),
        "no dataset export for the search:\n{dom}"
    );
    assert!(
        !dom.contains("alice/hostile.tif"),
        "the folder and search filter the list: {dom}"
    );
    assert_eq!(console_lines(&log), Vec::<&str>::new());

    let (dom, _) = render(&browser, &page(id("alice/hostile.tif"))).await;
    assert!(dom.contains("data-state=\"ready\""), "{dom}");
    assert!(
        !dom.contains("eln-link") && !dom.contains("href=\"javascript"),
        "{dom}"
    );
}

/// `x` of every axis label in each `<svg>` of a dumped page, in order.
fn axis_labels(dom: &str) -> Vec<Vec<(f64, String)>> {
    dom.split("<svg")
        .skip(1)
        .map(|svg| {
            let svg = svg.split("</svg>").next().unwrap_or_default();
            svg.split("<text class=\"axis-label\" x=\"")
                .skip(1)
                .map(|t| {
                    let x = t.split('"').next().unwrap().parse::<f64>().unwrap();
                    let label = t.split('>').nth(1).unwrap_or_default();
                    (x, label.split('<').next().unwrap_or_default().to_string())
                })
                .collect()
        })
        .collect()
}

/// Issue 15, dashboard polish: a file whose metadata names no instrument and no acquisition
/// time shows the agent and the file's modification time, each marked as a fallback; the file
/// page draws each channel's histogram; time labels of a busy hour do not overlap; the overview
/// counts the alarms the pipelines' rules raised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallbacks_histograms_and_axis_labels_in_chromium() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let env = Env::new(Backend::Sqlite).await;
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let mut events = Vec::new();
    // Eight files acquired minutes apart on one instrument: one trend whose time labels
    // would sit on top of each other.
    for k in 0..8 {
        events.extend(lifecycle(
            &format!("t{k}"),
            &format!("alice/run{k}.tif"),
            10,
            "LSM 980",
            &format!("{day}T08:{:02}:00Z", 5 * k),
            &[("DAPI", 10.0 + f64::from(k), 0.0)],
            &day,
        ));
    }
    // A plain TIFF: no instrument, no acquisition time, a histogram per channel.
    let mut plain = lifecycle(
        "p",
        "bob/plain.tif",
        10,
        "",
        "",
        &[("0", 12.0, 0.0), ("1", 8.0, 0.0)],
        &day,
    );
    let doc = &mut plain[1]["data"]["qc"];
    doc["inspect"]["instrument"] = json!(null);
    doc["inspect"]["acquired_at"] = json!(null);
    doc["modified_at"] = json!(format!("{day}T07:30:00.000Z"));
    for c in 0..2 {
        let bins: Vec<u64> = (0..64u64).map(|i| (i * 37 + c) % 11 * 1000).collect();
        doc["qc"]["channels"][c as usize]["histogram"] = json!(bins);
    }
    events.extend(plain);
    env.ingest(&batch("scope-1", events)).await;
    let files = env.get("/api/files?q=plain").await;
    let file = &files["files"][0];
    assert_eq!(
        file["modified_at"],
        json!(format!("{day}T07:30:00.000Z")),
        "{files}"
    );
    let id = file["id"].to_string();

    let (dom, log) = render(
        &browser,
        &format!("{}/?token={}#file/{id}", env.base, env.viewer),
    )
    .await;
    assert!(dom.contains("data-state=\"ready\""), "{dom}\n{log}");
    assert!(
        dom.contains("scope-1 <span class=\"muted fallback\""),
        "instrument falls back to the agent:\n{dom}"
    );
    assert!(
        dom.contains("(agent)") && dom.contains("(file modified)"),
        "{dom}"
    );
    assert!(
        dom.contains(&format!("{day} 07:30:00")),
        "the modification time is shown:\n{dom}"
    );
    assert_eq!(
        dom.matches("class=\"hist-bar\"").count(),
        128,
        "64 bars per channel:\n{dom}"
    );
    assert_eq!(console_lines(&log), Vec::<&str>::new());

    let (dom, log) = render(
        &browser,
        &format!("{}/?token={}#files", env.base, env.viewer),
    )
    .await;
    assert!(
        dom.contains("(file modified)"),
        "the list marks the fallback too:\n{dom}"
    );
    assert_eq!(console_lines(&log), Vec::<&str>::new());

    // Labels of one chart never closer than the room their text takes (7 px a character).
    for hash in ["qc", "overview"] {
        let (dom, log) = render(
            &browser,
            &format!("{}/?token={}#{hash}", env.base, env.viewer),
        )
        .await;
        assert!(dom.contains("data-state=\"ready\""), "{dom}\n{log}");
        let charts = axis_labels(&dom);
        assert!(
            charts.iter().any(|c| !c.is_empty()),
            "#{hash}: no axis labels:\n{dom}"
        );
        for labels in charts {
            for pair in labels.windows(2) {
                let room = 7.0 * (pair[0].1.len() + pair[1].1.len()) as f64 / 2.0;
                assert!(
                    pair[1].0 - pair[0].0 >= room,
                    "#{hash}: labels {pair:?} overlap"
                );
            }
        }
    }
    let (dom, _) = render(
        &browser,
        &format!("{}/?token={}#overview", env.base, env.viewer),
    )
    .await;
    assert!(dom.contains("id=\"rule-alarms\">0<"), "{dom}");
}
