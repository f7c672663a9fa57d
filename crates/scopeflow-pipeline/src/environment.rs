//! The one phase that looks at this machine: folders and key files named in the pipeline
//! must exist. Metadata only: no file is opened, so no secret is ever read, and no network.

use std::io::ErrorKind;

use crate::reader::{Expect, OnDisk, Reader};

pub(crate) fn check_on_disk(expected: &[OnDisk], r: &mut Reader) {
    for e in expected {
        if let Some(problem) = problem(e) {
            r.error(e.pos, format!("{}: {problem}", e.key));
        }
    }
}

fn problem(e: &OnDisk) -> Option<String> {
    let shown = e.path.display();
    let meta = match std::fs::metadata(&e.path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == ErrorKind::NotFound => {
            return match e.expect {
                Expect::Folder => Some(format!("folder {shown} does not exist")),
                Expect::File => Some(format!("file {shown} does not exist")),
                Expect::ParentFolder => parent_problem(e),
            };
        }
        Err(err) => return Some(format!("cannot look at {shown}: {err}")),
    };
    match e.expect {
        Expect::Folder | Expect::ParentFolder if !meta.is_dir() => {
            Some(format!("{shown} is not a folder"))
        }
        Expect::File if meta.is_dir() => Some(format!("{shown} is a folder, not a file")),
        _ => None,
    }
}

fn parent_problem(e: &OnDisk) -> Option<String> {
    let parent = e.path.parent().filter(|p| !p.as_os_str().is_empty())?;
    match std::fs::metadata(parent) {
        Ok(meta) if meta.is_dir() => None,
        Ok(_) => Some(format!("{} is not a folder", parent.display())),
        Err(_) => Some(format!(
            "{} cannot be created: its parent folder {} does not exist",
            e.path.display(),
            parent.display()
        )),
    }
}
