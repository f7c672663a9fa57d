//! The requests every operation is built from, each mapped to a [`TransferError`] that names
//! the destination and the key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use futures::StreamExt;
use object_store::aws::AmazonS3;
use object_store::path::Path as Key;
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, ObjectStore, ObjectStoreExt, PutMode,
    PutOptions, PutPayload,
};
use scopeflow_transfer::{Digest, TransferError};
use sha2::{Digest as _, Sha256};

use crate::config::S3Config;
use crate::error::{Kind, Place, kind};

/// The user-metadata key (`x-amz-meta-sha256`) holding the hex sha256 of the whole object.
///
/// S3's own checksum of a multipart object is a checksum of the parts' checksums, not of the
/// file, and not every store returns checksums on HEAD; user metadata comes back everywhere.
pub(crate) const SHA256_META: &str = "sha256";

/// What a HEAD tells about a stored object.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    pub size: u64,
    /// From [`SHA256_META`]; `None` for an object another tool wrote.
    pub sha256: Option<Digest>,
}

pub(crate) struct Store {
    pub s3: AmazonS3,
    pub name: String,
    pub location: String,
    /// "" or "prefix/": prepended to every relative path.
    prefix: String,
    /// Shared by every destination value of this process writing the same manifest.
    pub manifest_lock: Arc<tokio::sync::Mutex<()>>,
}

/// One lock per manifest (endpoint, bucket, prefix) in this process.
fn manifest_lock(c: &S3Config) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let s = &c.settings;
    let id = format!("{:?}|{}|{}", s.endpoint, s.bucket, s.prefix);
    let mut locks = LOCKS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    Arc::clone(locks.entry(id).or_default())
}

impl Store {
    pub(crate) fn new(c: &S3Config, s3: AmazonS3) -> Store {
        let prefix = if c.settings.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", c.settings.prefix)
        };
        Store {
            s3,
            name: c.name.clone(),
            location: c.location(),
            prefix,
            manifest_lock: manifest_lock(c),
        }
    }

    pub(crate) fn ctx(&self) -> Place<'_> {
        Place {
            dest: &self.name,
            location: &self.location,
        }
    }

    pub(crate) fn key(&self, rel: &str) -> Key {
        Key::from(format!("{}{rel}", self.prefix))
    }

    /// The relative path of a listed key (`None` for keys outside the prefix).
    pub(crate) fn rel_of<'k>(&self, key: &'k Key) -> Option<&'k str> {
        key.as_ref().strip_prefix(self.prefix.as_str())
    }

    pub(crate) async fn head(&self, rel: &str) -> Result<Option<Head>, TransferError> {
        let opts = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        match self.s3.get_opts(&self.key(rel), opts).await {
            Ok(r) => Ok(Some(Head {
                size: r.meta.size,
                sha256: r
                    .attributes
                    .get(&Attribute::Metadata(SHA256_META.into()))
                    .and_then(|v| Digest::from_hex(v.as_ref()).ok()),
            })),
            Err(e) if kind(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(self.ctx().map("look up", rel, e)),
        }
    }

    /// Whether an object is stored at exactly `rel`, told from a listing of its parent rather
    /// than a HEAD: a store over a file system (s3s-fs) fails a HEAD on a name that is one of
    /// its folders, even an empty one left behind once every object in it was removed.
    pub(crate) async fn is_object(&self, rel: &str) -> Result<bool, TransferError> {
        let parent = match rel.rsplit_once('/') {
            Some((p, _)) => Some(self.key(p)),
            None if self.prefix.is_empty() => None,
            None => Some(Key::from(self.prefix.trim_end_matches('/'))),
        };
        let listing = self
            .s3
            .list_with_delimiter(parent.as_ref())
            .await
            .map_err(|e| self.ctx().map("list", rel, e))?;
        let key = self.key(rel);
        Ok(listing.objects.iter().any(|o| o.location == key))
    }

    /// Whether any object lies under `rel/`.
    pub(crate) async fn has_children(&self, rel: &str) -> Result<bool, TransferError> {
        let dir = self.key(rel);
        let mut listing = self.s3.list(Some(&dir));
        match listing.next().await {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(self.ctx().map("list", rel, e)),
        }
    }

    /// Every object under `rel/`, as (path relative to `rel`, size), sorted.
    pub(crate) async fn list_under(&self, rel: &str) -> Result<Vec<(String, u64)>, TransferError> {
        let dir = self.key(rel);
        let mut listing = self.s3.list(Some(&dir));
        let mut out = Vec::new();
        let base = format!("{}/", dir.as_ref());
        while let Some(item) = listing.next().await {
            let meta = item.map_err(|e| self.ctx().map("list", rel, e))?;
            if let Some(sub) = meta.location.as_ref().strip_prefix(&base) {
                out.push((sub.to_owned(), meta.size));
            }
        }
        out.sort();
        Ok(out)
    }

    /// One PUT that never replaces anything (`If-None-Match: *`). `Ok(false)` if the key was
    /// taken; the caller then compares what is there.
    pub(crate) async fn put_new(
        &self,
        rel: &str,
        bytes: Vec<u8>,
        sha256: &Digest,
    ) -> Result<bool, TransferError> {
        let opts = PutOptions {
            mode: PutMode::Create,
            attributes: sha256_attributes(sha256),
            ..PutOptions::default()
        };
        let payload = PutPayload::from(bytes);
        match self
            .s3
            .put_opts(&self.key(rel), payload.clone(), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if kind(&e) == Kind::Precondition => Ok(false),
            // A store without conditional puts: the HEAD the caller made just before is the
            // only guard left.
            Err(e) if kind(&e) == Kind::NotImplemented => {
                let opts = PutOptions {
                    attributes: sha256_attributes(sha256),
                    ..PutOptions::default()
                };
                self.s3
                    .put_opts(&self.key(rel), payload, opts)
                    .await
                    .map_err(|e| self.ctx().map("upload", rel, e))?;
                Ok(true)
            }
            // Damaged on the way: S3 stores nothing, but some stores (s3s-fs) check after
            // writing. The conditional PUT got past `If-None-Match`, so the key was free and
            // whatever is there now is our damaged copy: remove it so no retry trusts it.
            Err(e) if crate::error::chain_text(&e).contains("BadDigest") => {
                self.remove(rel).await?;
                Err(self.ctx().mismatch(
                    rel,
                    format!("the store refused the bytes as not matching their sha256 {sha256}"),
                    false,
                ))
            }
            Err(e) => Err(self.ctx().map("upload", rel, e)),
        }
    }

    /// Downloads `rel` and hashes it as it streams in (memory stays at one network buffer).
    /// `None` if there is no such object.
    pub(crate) async fn read_back(
        &self,
        rel: &str,
    ) -> Result<Option<(Digest, u64)>, TransferError> {
        let got = match self.s3.get(&self.key(rel)).await {
            Ok(g) => g,
            Err(e) if kind(&e) == Kind::NotFound => return Ok(None),
            Err(e) => return Err(self.ctx().map("read back", rel, e)),
        };
        let mut stream = got.into_stream();
        let mut hasher = Sha256::new();
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.ctx().map("read back", rel, e))?;
            hasher.update(&chunk);
            n += chunk.len() as u64;
        }
        Ok(Some((Digest(hasher.finalize().into()), n)))
    }

    /// Removes an object this crate has just written and found wrong, so a retry does not
    /// trust it; never used on a published copy.
    pub(crate) async fn remove(&self, rel: &str) -> Result<(), TransferError> {
        match self.s3.delete(&self.key(rel)).await {
            Ok(()) => Ok(()),
            Err(e) if kind(&e) == Kind::NotFound => Ok(()),
            Err(e) => Err(self.ctx().map("remove", rel, e)),
        }
    }
}

pub(crate) fn sha256_attributes(sha256: &Digest) -> Attributes {
    let mut a = Attributes::new();
    a.insert(
        Attribute::Metadata(SHA256_META.into()),
        AttributeValue::from(sha256.to_hex()),
    );
    a
}
