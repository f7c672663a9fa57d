//! The states of a raw file version and of its copies, as the journal stores them, the agent
//! and the retention robot act on them, `scopeflow status` prints them (CLI.md) and the
//! server's catalog shows them. One list, so a new state cannot be forgotten in one place.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a file version stands: `discovered → stable → processed → transferred → verified →
/// purged` (the progress path, in order), or off it: `failed` (retried with back-off) and
/// `quarantined` (given up, shown to the operator).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileState {
    /// Where every file starts.
    #[default]
    Discovered,
    Stable,
    Processed,
    Transferred,
    Verified,
    Purged,
    Failed,
    Quarantined,
}

impl FileState {
    /// Every state, in the order a file moves through them (the two off-path states last).
    pub const ALL: [FileState; 8] = [
        FileState::Discovered,
        FileState::Stable,
        FileState::Processed,
        FileState::Transferred,
        FileState::Verified,
        FileState::Purged,
        FileState::Failed,
        FileState::Quarantined,
    ];

    /// The progress path alone, in order: a state's index here is its rank.
    pub const PROGRESS: [FileState; 6] = [
        FileState::Discovered,
        FileState::Stable,
        FileState::Processed,
        FileState::Transferred,
        FileState::Verified,
        FileState::Purged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Discovered => "discovered",
            FileState::Stable => "stable",
            FileState::Processed => "processed",
            FileState::Transferred => "transferred",
            FileState::Verified => "verified",
            FileState::Purged => "purged",
            FileState::Failed => "failed",
            FileState::Quarantined => "quarantined",
        }
    }

    /// The position on the progress path (`discovered` 0 … `purged` 5); `None` off it.
    pub const fn rank(self) -> Option<usize> {
        match self {
            FileState::Discovered => Some(0),
            FileState::Stable => Some(1),
            FileState::Processed => Some(2),
            FileState::Transferred => Some(3),
            FileState::Verified => Some(4),
            FileState::Purged => Some(5),
            FileState::Failed | FileState::Quarantined => None,
        }
    }

    /// The progress state of rank `rank`, clamped to the path.
    pub fn of_rank(rank: i64) -> FileState {
        let last = FileState::PROGRESS.len() - 1;
        let i = usize::try_from(rank.max(0)).map_or(last, |r| r.min(last));
        FileState::PROGRESS[i]
    }

    /// Safely delivered: every destination holds a verified copy (or did, before the purge).
    pub fn is_delivered(self) -> bool {
        matches!(self, FileState::Verified | FileState::Purged)
    }
}

/// Where one copy of a file version at one destination stands. `invalid`: a check found the
/// stored copy damaged, and it must be set aside and sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyState {
    Pending,
    Transferred,
    Verified,
    Invalid,
}

impl CopyState {
    pub const ALL: [CopyState; 4] = [
        CopyState::Pending,
        CopyState::Transferred,
        CopyState::Verified,
        CopyState::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CopyState::Pending => "pending",
            CopyState::Transferred => "transferred",
            CopyState::Verified => "verified",
            CopyState::Invalid => "invalid",
        }
    }
}

/// A state name no version of scopeflow writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} state {found:?}")]
pub struct UnknownState {
    pub what: &'static str,
    pub found: String,
}

macro_rules! text_forms {
    ($t:ty, $what:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $t {
            type Err = UnknownState;
            fn from_str(s: &str) -> Result<Self, UnknownState> {
                <$t>::ALL
                    .into_iter()
                    .find(|x| x.as_str() == s)
                    .ok_or_else(|| UnknownState {
                        what: $what,
                        found: s.to_owned(),
                    })
            }
        }

        /// For database rows, which hold the name as text.
        impl TryFrom<String> for $t {
            type Error = UnknownState;
            fn try_from(s: String) -> Result<Self, UnknownState> {
                s.parse()
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<$t> for &str {
            fn eq(&self, other: &$t) -> bool {
                *self == other.as_str()
            }
        }
    };
}

text_forms!(FileState, "file");
text_forms!(CopyState, "copy");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for s in FileState::ALL {
            assert_eq!(s.as_str().parse::<FileState>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        for s in CopyState::ALL {
            assert_eq!(s.as_str().parse::<CopyState>(), Ok(s));
        }
        let e = "Verified".parse::<FileState>().unwrap_err();
        assert_eq!(e.to_string(), "unknown file state \"Verified\"");
    }

    #[test]
    fn ranks_follow_the_progress_path() {
        assert_eq!(FileState::Discovered.rank(), Some(0));
        assert_eq!(FileState::Purged.rank(), Some(5));
        assert_eq!(FileState::Failed.rank(), None);
        for (i, s) in FileState::PROGRESS.into_iter().enumerate() {
            assert_eq!(s.rank(), Some(i), "{s}");
        }
        assert_eq!(FileState::of_rank(4), FileState::Verified);
        assert_eq!(FileState::of_rank(-1), FileState::Discovered);
        assert_eq!(FileState::of_rank(99), FileState::Purged);
    }
}
