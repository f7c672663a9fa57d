//! Issue 15 end to end: a real agent with a `qc:` rule reporting to a real `scopeflow server`.
//! The saturated sample's alarm and the conversion's thumbnail reach the server as events; the
//! API serves them, /metrics counts the alarm, and headless Chromium draws the thumbnail on the
//! file list and the file page and lists the alarm.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::server::{Server, free_port, get_bytes, get_json, token};
use crate::util::*;

fn pipeline(dir: &Dir, port: u16) -> PathBuf {
    dir.mkdir("acquisitions/alice");
    dir.mkdir("nas");
    dir.create(
        "pipeline.yaml",
        format!(
            "version: 1\nname: confocal-7\nwatch:\n  - path: acquisitions\n    include: [\"**/*.tif\"]\n    settle: 1s\n\
             state: state/journal.db\nsteps: [metadata, qc, convert]\n\
             qc: {{saturation_max: 0.001, notify: [{{desktop: true}}]}}\n\
             destinations:\n  - name: nas\n    kind: local\n    path: nas/confocal-7\n\
             server:\n  url: http://127.0.0.1:{port}\n  token_file: agent.token\n"
        ),
    )
}

/// Every `.png` under `dir`.
fn pngs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "png") {
                out.push(p);
            }
        }
    }
    out
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    let side = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!(&png[12..16], b"IHDR", "not a PNG");
    (side(16), side(20))
}

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

/// The DOM of `url` once its fetches finished, and the browser's log.
fn render(browser: &Path, profile: &Path, url: &str) -> (String, String) {
    let out = Command::new(browser)
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
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", browser.display()));
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium on {url} failed: {log}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), log)
}

sftest!(
    alarm_and_thumbnail_reach_the_server_and_the_dashboard,
    |dir: Dir| {
        let db = format!("sqlite://{}", dir.join("server.db").display());
        dir.create("agent.token", token(&db, &["--agent", "confocal-7"]) + "\n");
        let viewer = token(&db, &["--viewer"]);
        let port = free_port();
        let cfg = pipeline(&dir, port);
        std::fs::copy(SYNTH_F.path(), dir.join("acquisitions/alice/saturated.tif")).expect("copy");
        std::fs::copy(SYNTH_A.path(), dir.join("acquisitions/alice/clean.tif")).expect("copy");
        let server = Server::start(&db, port, &dir.join("server.log"));
        scopeflow(args!["agent", "--config", &cfg, "--once"]).success();

        // The alarm: the saturated file's channel 0, its figure as the agent's QC measured it.
        let alarms = get_json(&format!("{}/api/alarms?user=alice", server.url), &viewer);
        let list = alarms["alarms"].as_array().expect("alarms");
        assert_eq!(
            list.len(),
            1,
            "one alarm, for the saturated file: {alarms:#}"
        );
        let a = &list[0];
        assert_eq!(a["path"], "alice/saturated.tif", "{a:#}");
        assert_eq!(a["rule"], "saturation_max");
        assert_eq!(a["channel"], 0);
        assert_eq!(a["threshold"], 0.001);
        assert_eq!(a["agent"], "confocal-7");
        let truth = SYNTH_F.truth()["channels"][0]["saturation_fraction"]
            .as_f64()
            .expect("truth");
        let value = a["value"].as_f64().expect("value");
        assert!(close(value, truth, 1e-9), "{value} vs {truth}");
        let instrument = a["instrument"].as_str().expect("instrument").to_string();
        let other = get_json(
            &format!("{}/api/alarms?instrument=nowhere", server.url),
            &viewer,
        );
        assert_eq!(other["alarms"], serde_json::json!([]));
        let (_, _, metrics) = get_bytes(&format!("{}/metrics", server.url), &viewer);
        let metrics = String::from_utf8_lossy(&metrics).into_owned();
        let line = format!(
            "scopeflow_qc_alarms_total{{instrument=\"{instrument}\",rule=\"saturation_max\"}} 1"
        );
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing:\n{metrics}"
        );

        // The thumbnail: the very PNG delivered as qc/STEM.png, served as image/png.
        let files = get_json(
            &format!("{}/api/files?agent=confocal-7", server.url),
            &viewer,
        );
        let files = files["files"].as_array().cloned().unwrap_or_default();
        let sat = files
            .iter()
            .find(|f| f["path"] == "alice/saturated.tif")
            .unwrap_or_else(|| panic!("saturated file missing: {files:#?}"));
        let id = sat["id"].as_i64().expect("id");
        let url = sat["thumbnail"].as_str().expect("thumbnail url");
        let (status, ctype, png) = get_bytes(&format!("{}{url}", server.url), &viewer);
        assert_eq!((status, ctype.as_str()), (200, "image/png"));
        let delivered = pngs(&dir.join("nas"));
        let stem = delivered
            .iter()
            .find(|p| p.file_name().is_some_and(|n| n == "saturated.png"))
            .unwrap_or_else(|| panic!("no qc/saturated.png delivered: {delivered:?}"));
        assert_eq!(
            png,
            std::fs::read(stem).expect("delivered PNG"),
            "{}",
            stem.display()
        );
        let (w, h) = png_size(&png);
        assert!(w.max(h) <= 256 && w.min(h) > 0, "{w} × {h}");
        let file = get_json(&format!("{}/api/files/{id}", server.url), &viewer);
        assert_eq!(file["alarms"].as_array().map(Vec::len), Some(1), "{file:#}");
        let clean = files
            .iter()
            .find(|f| f["path"] == "alice/clean.tif")
            .expect("clean file");
        let clean_file = get_json(
            &format!("{}/api/files/{}", server.url, clean["id"]),
            &viewer,
        );
        assert_eq!(
            clean_file["alarms"],
            serde_json::json!([]),
            "{clean_file:#}"
        );

        let Some(browser) = chromium() else {
            if std::env::var("SCOPEFLOW_SKIP_CHROMIUM").as_deref() == Ok("1") {
                return;
            }
            panic!(
                "Chromium not found: install it or set SCOPEFLOW_CHROMIUM (SCOPEFLOW_SKIP_CHROMIUM=1 skips)"
            );
        };
        // The browser decoded the picture: its natural size is the PNG's.
        let drawn = format!("data-natural=\"{w}x{h}\"");
        let page = |hash: &str| format!("{}/?token={viewer}#{hash}", server.url);
        let profile = dir.mkdir("chromium");
        let cases = [
            (
                format!("file/{id}"),
                vec![
                    drawn.clone(),
                    "saturation_max".into(),
                    "QC alarms".into(),
                    "class=\"num alarm qc-alarm\"".into(),
                ],
            ),
            (
                "files".to_string(),
                vec![drawn.clone(), "alice/clean.tif".into(), "qc-alarm".into()],
            ),
            (
                "alarms?user=alice".to_string(),
                vec![
                    "alice/saturated.tif".into(),
                    "saturation_max".into(),
                    instrument.clone(),
                ],
            ),
            ("alarms?user=bob".to_string(), vec!["No alarms.".into()]),
        ];
        for (hash, wanted) in cases {
            let (dom, log) = render(&browser, &profile, &page(&hash));
            assert!(
                dom.contains("data-state=\"ready\""),
                "#{hash} did not load:\n{dom}\n{log}"
            );
            for w in &wanted {
                assert!(dom.contains(w.as_str()), "#{hash} lacks {w:?}:\n{dom}");
            }
            if hash == "files" {
                // The alarm colour is the saturated file's alone.
                for tr in dom.split("<tr").filter(|t| t.contains("data-id")) {
                    let saturated = tr.contains("alice/saturated.tif");
                    assert_eq!(tr.contains("qc-alarm"), saturated, "row: {tr}");
                }
            }
            let console: Vec<&str> = log
                .lines()
                .filter(|l| {
                    l.contains("CONSOLE")
                        || l.contains("Uncaught")
                        || l.contains("Failed to load resource")
                })
                .collect();
            assert!(console.is_empty(), "#{hash}: console messages {console:#?}");
        }

        // On screen: the file page drawn with images and without them differs only where the
        // thumbnail is, by the thumbnail's own colours.
        let shot = |name: &str, images: bool| {
            let png = dir.join(name);
            screenshot(
                &browser,
                &profile,
                &page(&format!("file/{id}")),
                images,
                &png,
            );
            png
        };
        let (with, without) = (shot("with.png", true), shot("without.png", false));
        let run = python(args!["-c", SCREEN_DIFF, with, without, stem]).success();
        let diff: serde_json::Value =
            serde_json::from_str(run.stdout_last_line().expect("a line")).expect("JSON");
        let (w_box, h_box) = (
            diff["box"][2].as_i64().unwrap_or(0),
            diff["box"][3].as_i64().unwrap_or(0),
        );
        assert!(
            (128..=260).contains(&w_box.max(h_box)) && w_box.min(h_box) > 0,
            "the pixels that change when images are drawn are not one thumbnail-sized box: {diff}"
        );
        assert!(
            diff["colour_distance"].as_f64().is_some_and(|d| d < 40.0),
            "what is drawn there is not the thumbnail's colours: {diff}"
        );
    }
);

/// `with.png without.png thumbnail.png`: the bounding box `[x, y, w, h]` of the pixels that
/// differ between the two screenshots, and the distance between the mean colour drawn there and
/// the thumbnail's mean colour (0-441 in RGB).
const SCREEN_DIFF: &str = r#"
import json, sys
import numpy as np
from PIL import Image
a, b, t = (np.asarray(Image.open(p).convert("RGB")).astype(float) for p in sys.argv[1:4])
changed = np.abs(a - b).sum(axis=2) > 30
# Rows and columns where a picture changed, not a stray anti-aliased glyph.
ys, xs = np.nonzero(changed.sum(axis=1) >= 16)[0], np.nonzero(changed.sum(axis=0) >= 16)[0]
if len(xs) == 0 or len(ys) == 0:
    print(json.dumps({"box": [0, 0, 0, 0], "colour_distance": None}))
    sys.exit()
x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
drawn = a[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)
mean_t = t.reshape(-1, 3).mean(axis=0)
print(json.dumps({"box": [int(x0), int(y0), int(x1 - x0), int(y1 - y0)],
                  "colour_distance": float(np.linalg.norm(drawn - mean_t))}))
"#;

/// A screenshot of `url` (images drawn or not) once its fetches finished.
fn screenshot(browser: &Path, profile: &Path, url: &str, images: bool, png: &Path) {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1280,1600",
        "--force-device-scale-factor=1",
        "--virtual-time-budget=15000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--screenshot={}", png.display()));
    if !images {
        cmd.arg("--blink-settings=imagesEnabled=false");
    }
    let out = cmd
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", browser.display()));
    assert!(
        out.status.success() && png.is_file(),
        "chromium --screenshot of {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
