//! What a plan or a run decided, in the shape of the CLI contract.

use serde_json::{Value, json};

/// One file's decision. `path` is relative to its watched folder, as in `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub watch: String,
    pub path: String,
    /// Machine-readable reason: `eligible`, `purged`, `trashed`, `too_young`, `not_verified`,
    /// `unreachable`, `checksum_mismatch`, `modified`, `missing`, `min_copies`,
    /// `max_per_run`, `interrupted`, `failed`.
    pub code: &'static str,
    /// Starts with a fixed phrase per code (see [`crate::reason`]), then the details.
    pub reason: String,
}

/// Files purged (or that a plan would purge) and files kept, each with why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub purge: Vec<Decision>,
    pub keep: Vec<Decision>,
    /// Trash entries deleted after `trash_keep` (run only), as paths in the trash.
    pub expired: Vec<String>,
    /// Plans only: what the plan checked, `journal` (the journal and a size/mtime look; fast)
    /// or `verified` (`--verify`: copies re-verified and files re-hashed, as `run` does).
    pub checks: Option<&'static str>,
}

impl Report {
    /// `{"purge": [{"path", "reason"}], "keep": [{"path", "reason"}]}` (CLI.md).
    pub fn to_json(&self) -> Value {
        let list = |v: &[Decision]| -> Vec<Value> {
            v.iter()
                .map(|d| json!({"path": d.path, "reason": d.reason}))
                .collect()
        };
        let mut doc = json!({"purge": list(&self.purge), "keep": list(&self.keep)});
        if let Some(c) = self.checks {
            doc["checks"] = json!(c);
        }
        doc
    }

    /// The same document as [`Report::to_json`], written entry by entry: a plan over 100,000
    /// files would otherwise build a JSON tree of 200,000 maps just to print it.
    ///
    /// # Errors
    /// Writing to `w` failed.
    pub fn write_json(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        let text = |s: &str| serde_json::to_string(s).map_err(std::io::Error::from);
        w.write_all(b"{")?;
        for (i, (key, list)) in [("purge", &self.purge), ("keep", &self.keep)]
            .into_iter()
            .enumerate()
        {
            let sep = if i == 0 { "" } else { "," };
            write!(w, "{sep}\n  \"{key}\": [")?;
            for (j, d) in list.iter().enumerate() {
                let sep = if j == 0 { "" } else { "," };
                write!(
                    w,
                    "{sep}\n    {{\"path\": {}, \"reason\": {}}}",
                    text(&d.path)?,
                    text(&d.reason)?
                )?;
            }
            w.write_all(if list.is_empty() { b"]" } else { b"\n  ]" })?;
        }
        if let Some(c) = self.checks {
            write!(w, ",\n  \"checks\": {}", text(c)?)?;
        }
        w.write_all(b"\n}\n")
    }

    /// One line per decision, then a count, for people.
    pub fn to_text(&self, purge_verb: &str) -> String {
        let mut out = String::new();
        match self.checks {
            Some("journal") => out.push_str(
                "plan from the journal only: copies not re-verified, files not re-hashed \
                 (`retention plan --verify` checks them as `run` does)\n",
            ),
            Some(_) => out
                .push_str("plan with copies re-verified and files re-hashed now, as `run` does\n"),
            None => {}
        }
        for d in &self.purge {
            out.push_str(&format!("{purge_verb:<7} {}  ({})\n", d.path, d.reason));
        }
        for d in &self.keep {
            out.push_str(&format!("keep    {}  ({})\n", d.path, d.reason));
        }
        for p in &self.expired {
            out.push_str(&format!("expired {p}  (trash_keep passed)\n"));
        }
        out.push_str(&format!(
            "{} {purge_verb}, {} kept{}\n",
            self.purge.len(),
            self.keep.len(),
            if self.expired.is_empty() {
                String::new()
            } else {
                format!(", {} deleted from the trash", self.expired.len())
            }
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_json_is_the_contract_document() {
        let d = |p: &str, r: &str| Decision {
            watch: "acq".into(),
            path: p.into(),
            code: "eligible",
            reason: r.into(),
        };
        for report in [
            Report::default(),
            Report {
                purge: vec![d("a \"q\".tif", "why\nnot"), d("b.tif", "ok")],
                keep: vec![d("c.tif", "too young: é")],
                expired: vec![],
                checks: Some("journal"),
            },
        ] {
            let mut out = Vec::new();
            report.write_json(&mut out).unwrap();
            let parsed: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(parsed, report.to_json());
        }
    }
}
