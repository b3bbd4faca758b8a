//! Files (issue 17, first part): an employee uploads a file's bytes, streamed into the blob
//! store (`crate::blobs`) within the node's limit, and reads it back. Until files are
//! attached to posts (which will let everyone who may read the post read the file), a file
//! is its uploader's alone: the upload is recorded in their personal records.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::{Service, Viewer};
use crate::blobs::{BlobError, BlobId};
use crate::core::Core;
use crate::error::NodeError;
use crate::transfer::Wanted;

/// A stored file as its uploader described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// The SHA-256 of its bytes (hex).
    pub id: String,
    pub size: u64,
    pub media_type: String,
    pub name: String,
    /// When it was uploaded (ms).
    pub at: i64,
    /// Its thumbnail (a photo's): hash, size, media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<(String, u64, String)>,
    /// The start of its text (a document's; see [`crate::extract`]), for search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// The longest file name kept (bytes).
pub const MAX_FILE_NAME: usize = 255;

impl Service {
    /// Stores the bytes `body` yields (at most the node's `max_file_mb`; more: `TooLarge`,
    /// nothing kept) as a file named `name` of type `media_type`, uploaded by the viewer.
    pub async fn upload(
        &self,
        v: &Viewer,
        name: &str,
        media_type: &str,
        body: impl Read + Send + 'static,
    ) -> Result<FileInfo, NodeError> {
        let name = clean_name(name)?;
        let media_type = clean_type(media_type)?;
        // An upload spends a write of the budget before any byte is stored: fifty at once
        // from one employee are refused like fifty posts (429).
        let me = v.0.clone();
        self.run("files.budget", move |c| c.spend_write(&me))
            .await?;
        let (blobs, limit) = self.node.blobs();
        let blobs = blobs.clone();
        let (id, size) = tokio::task::spawn_blocking({
            let blobs = blobs.clone();
            move || blobs.put(body, limit)
        })
        .await
        .map_err(|e| NodeError::Invalid(format!("the upload stopped: {e}")))?
        .map_err(|e| match e {
            BlobError::TooLarge { limit } => NodeError::TooLarge {
                what: "the file".into(),
                limit,
            },
            BlobError::Full { quota } => NodeError::TooLarge {
                what: "this site's store of files with it".into(),
                limit: quota,
            },
            e => NodeError::Invalid(format!("the file could not be stored: {e}")),
        })?;
        let (id, size, thumbnail) = if crate::media::is_photo(&media_type) {
            let (blobs, kind) = (blobs.clone(), media_type.clone());
            tokio::task::spawn_blocking(move || prepare_photo(&blobs, id, size, &kind, limit))
                .await
                .map_err(|e| NodeError::Invalid(format!("the upload stopped: {e}")))?
        } else {
            (id, size, None)
        };
        let text = if crate::extract::readable(&media_type, &name) {
            let (blobs, kind, file_name, id) =
                (blobs.clone(), media_type.clone(), name.clone(), id.clone());
            tokio::task::spawn_blocking(move || {
                let f = blobs.open_blob(&id).ok()?;
                crate::extract::text(std::io::BufReader::new(f), size, &kind, &file_name)
            })
            .await
            .ok()
            .flatten()
        } else {
            None
        };
        let info = FileInfo {
            id: id.to_string(),
            size,
            media_type,
            name,
            at: self.now_ms(),
            thumbnail,
            text,
        };
        let (me, record) = (v.0.clone(), info.clone());
        let thumb = info.thumbnail.as_ref().map(|(id, size, kind)| FileInfo {
            id: id.clone(),
            size: *size,
            media_type: kind.clone(),
            name: thumbnail_name(&info.name, kind),
            at: info.at,
            thumbnail: None,
            text: None,
        });
        self.run("files.upload", move |c| {
            c.record_upload(&me, &record)?;
            // The thumbnail is the uploader's to see before the photo is posted, too.
            match thumb {
                Some(t) => c.record_upload(&me, &t),
                None => Ok(()),
            }
        })
        .await?;
        Ok(info)
    }

    /// A file the viewer may read — their own upload, or a file a post they may read carries
    /// — and its bytes open for reading; `NotFound` otherwise. A file a post carries whose
    /// bytes are not here yet is fetched from a site that has them first (see
    /// [`crate::transfer`]); `Unavailable` if none can send it now.
    pub async fn file(&self, v: &Viewer, id: &str) -> Result<(FileInfo, std::fs::File), NodeError> {
        let id = BlobId::parse(id).ok_or(NodeError::NotFound)?;
        let record = match self.reader().upload(v.id(), id.as_str())? {
            Some(r) => r,
            None => {
                let (record, wanted) = self.attached(v, &id).await?.ok_or(NodeError::NotFound)?;
                let (_, limit) = self.node.blobs();
                if wanted.size > limit {
                    // Made where the limit was higher: not brought here.
                    return Err(NodeError::TooLarge {
                        what: "the file".into(),
                        limit,
                    });
                }
                self.node.transfers().fetch(wanted).await?;
                record
            }
        };
        let (blobs, _) = self.node.blobs();
        let file = blobs.open_blob(&id).map_err(|e| match e {
            BlobError::NotFound => NodeError::NotFound,
            e => NodeError::Invalid(format!("the file cannot be read: {e}")),
        })?;
        Ok((record, file))
    }
}

impl Service {
    /// The file `id` as a post the viewer may read carries it, if one does, and how to
    /// fetch it if its bytes are not here.
    async fn attached(
        &self,
        v: &Viewer,
        id: &BlobId,
    ) -> Result<Option<(FileInfo, Wanted)>, NodeError> {
        let hash = id.as_str();
        let threads: Vec<weft_crdt::DocId> = self
            .reader()
            .model()
            .threads_with_file(hash)
            .filter(|t| self.reader().doc_access(v.id(), t) == crate::access::Access::Full)
            .cloned()
            .collect();
        for t in self.threads_for(v, threads).await? {
            for p in t.posts.iter().filter(|p| !p.deleted && !p.hidden) {
                let first = || self.reader().employee(&p.author).map(|e| e.site);
                for a in &p.attachments {
                    let info = if a.hash == hash {
                        FileInfo {
                            id: a.hash.clone(),
                            size: a.size,
                            media_type: a.media_type.clone(),
                            name: a.name.clone(),
                            at: p.created_at,
                            thumbnail: a.thumbnail.clone(),
                            text: None,
                        }
                    } else if let Some((th, size, kind)) =
                        a.thumbnail.as_ref().filter(|t| t.0 == hash)
                    {
                        FileInfo {
                            id: th.clone(),
                            size: *size,
                            media_type: kind.clone(),
                            name: thumbnail_name(&a.name, kind),
                            at: p.created_at,
                            thumbnail: None,
                            text: None,
                        }
                    } else {
                        continue;
                    };
                    let wanted = Wanted {
                        id: id.clone(),
                        size: info.size,
                        doc: t.id.clone(),
                        first: first(),
                    };
                    return Ok(Some((info, wanted)));
                }
            }
        }
        Ok(None)
    }

    /// The viewer's own uploads `files` (their ids) as attachments; `Invalid` for any that
    /// is not one, or for too many (check before making the post they go with).
    pub fn own_uploads(
        &self,
        v: &Viewer,
        files: &[String],
    ) -> Result<Vec<weft_crdt::Attachment>, NodeError> {
        if files.len() > weft_crdt::MAX_ATTACHMENTS {
            return Err(NodeError::Invalid(format!(
                "at most {} files to a post",
                weft_crdt::MAX_ATTACHMENTS
            )));
        }
        // The texts share what one change may carry (a post of twenty documents keeps less of
        // each).
        let text_share = (96 * 1024 / files.len().max(1)).min(weft_crdt::MAX_FILE_TEXT);
        files
            .iter()
            .map(|f| {
                let info = self
                    .reader()
                    .upload(v.id(), f)?
                    .ok_or_else(|| NodeError::Invalid(format!("no file {f} of yours")))?;
                Ok(weft_crdt::Attachment {
                    hash: info.id,
                    size: info.size,
                    media_type: info.media_type,
                    name: info.name,
                    text: info.text.map(|t| cut(t, text_share)),
                    thumbnail: info.thumbnail.map(|(hash, size, media_type)| {
                        weft_crdt::Thumbnail {
                            hash,
                            size,
                            media_type,
                        }
                    }),
                })
            })
            .collect()
    }

    /// Attaches the viewer's own uploads `files` (their ids) to their post `post`.
    pub async fn attach(
        &self,
        v: &Viewer,
        thread: &weft_crdt::DocId,
        post: &str,
        files: &[String],
    ) -> Result<(), NodeError> {
        if files.is_empty() {
            return Ok(());
        }
        let list = self.own_uploads(v, files)?;
        let (me, t, p, now) = (v.0.clone(), thread.clone(), post.to_owned(), self.now_ms());
        self.run("files.attach", move |c| {
            c.require_thread(&me, &t)?;
            c.local_one(&me, |r, a| r.attach(a, &t, &p, &list, now))
        })
        .await
    }
}

/// A photo just stored as `id`: a JPEG's metadata dropped (a new blob, the old one removed
/// — see [`crate::media`]), and its thumbnail stored. Returns the blob to keep, its size
/// and the thumbnail's hash, size and media type; whatever fails leaves the photo as it was
/// uploaded, without a thumbnail (logged).
fn prepare_photo(
    blobs: &crate::blobs::BlobStore,
    id: BlobId,
    size: u64,
    media_type: &str,
    limit: u64,
) -> (BlobId, u64, Option<(String, u64, String)>) {
    let (mut id, mut size) = (id, size);
    if media_type == "image/jpeg" {
        let stripped = blobs
            .open_blob(&id)
            .map_err(|e| e.to_string())
            .and_then(|mut f| {
                match crate::media::strip_jpeg_head(&mut f) {
                    Ok(Some(head)) => blobs
                        .put(std::io::Cursor::new(head).chain(f), limit)
                        .map(Some)
                        .map_err(|e| e.to_string()),
                    Ok(None) => Ok(None),
                    // Not a JPEG after all (or cut short): kept as it is.
                    Err(_) => Ok(None),
                }
            });
        match stripped {
            Ok(Some((new, n))) => {
                if new != id
                    && let Err(e) = blobs.remove(&id)
                {
                    tracing::warn!(blob = %id, error = %e, "a photo's original with its metadata could not be removed");
                }
                (id, size) = (new, n);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(blob = %id, error = %e, "a photo's metadata could not be dropped")
            }
        }
    }
    let thumbnail = blobs
        .open_blob(&id)
        .ok()
        .and_then(crate::media::thumbnail)
        .and_then(|(bytes, kind)| {
            let (t, n) = blobs
                .put(&bytes[..], limit)
                .inspect_err(|e| tracing::warn!(error = %e, "a thumbnail could not be stored"))
                .ok()?;
            Some((t.to_string(), n, kind.to_owned()))
        });
    (id, size, thumbnail)
}

impl Core {
    /// Records `employee`'s upload.
    pub fn record_upload(&mut self, employee: &str, info: &FileInfo) -> Result<(), NodeError> {
        let bytes = serde_json::to_vec(info)
            .map_err(|e| NodeError::Invalid(format!("an upload's record: {e}")))?;
        self.store().put_upload(employee, &info.id, &bytes)?;
        Ok(())
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
    s
}

/// The name a thumbnail is served under: the file's, with the thumbnail's extension.
fn thumbnail_name(name: &str, media_type: &str) -> String {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let ext = if media_type == "image/png" {
        "png"
    } else {
        "jpg"
    };
    format!("{stem}.thumbnail.{ext}")
}

/// A file name as kept: its last path segment, without control characters, within
/// [`MAX_FILE_NAME`] bytes (cut at a character boundary); empty: `file`.
fn clean_name(name: &str) -> Result<String, NodeError> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out = String::new();
    for c in last.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_FILE_NAME {
            break;
        }
        out.push(c);
    }
    let out = out.trim().to_owned();
    Ok(if out.is_empty() || out == "." || out == ".." {
        "file".into()
    } else {
        out
    })
}

/// A media type as kept: `type/subtype` in lower case (parameters dropped); anything else is
/// `application/octet-stream`.
fn clean_type(t: &str) -> Result<String, NodeError> {
    let t = t
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = t.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && t.len() <= 100
            && t.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"/.+-_".contains(&c))
    });
    Ok(if ok {
        t
    } else {
        "application/octet-stream".into()
    })
}

/// How long a blob nothing references is kept (an upload not posted yet, a file whose post
/// was deleted, a copy fetched for a post deleted since): a week.
pub const UNREFERENCED_GRACE: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Blobs looked at per collection at most (the oldest first).
pub const COLLECT_MAX: usize = 2_000;

impl Core {
    /// Of `candidates` (blobs older than the grace period), those no post of a thread this
    /// site holds carries any longer — deleted or hidden posts do not count — as file or
    /// thumbnail: what may be removed.
    pub fn unreferenced_blobs(&mut self, candidates: Vec<BlobId>) -> Vec<BlobId> {
        candidates
            .into_iter()
            .filter(|id| {
                let threads: Vec<weft_crdt::DocId> = self
                    .model()
                    .threads_with_file(id.as_str())
                    .cloned()
                    .collect();
                !threads.iter().any(|t| {
                    self.load(t);
                    self.replica()
                        .doc(t)
                        .and_then(weft_crdt::ThreadView::of)
                        .is_some_and(|v| {
                            v.posts.iter().any(|p| {
                                !p.deleted
                                    && !p.hidden
                                    && p.attachments.iter().any(|a| {
                                        a.hash == id.as_str()
                                            || a.thumbnail
                                                .as_ref()
                                                .is_some_and(|t| t.0 == id.as_str())
                                    })
                            })
                        })
                })
            })
            .collect()
    }
}

/// Removes the blobs nothing references any longer (see [`Core::unreferenced_blobs`]) that
/// are older than `grace`: listed off the loop, judged on it, removed off it. Returns how
/// many were removed.
pub async fn collect_blobs(
    node: &crate::NodeHandle,
    grace: std::time::Duration,
) -> Result<usize, NodeError> {
    let (blobs, _) = node.blobs();
    let blobs = blobs.clone();
    let listed = blobs.clone();
    let old: Vec<BlobId> =
        tokio::task::spawn_blocking(move || listed.older_than(grace, COLLECT_MAX))
            .await
            .map_err(|e| NodeError::Invalid(format!("listing blobs: {e}")))?
            .map_err(|e| NodeError::Invalid(format!("listing blobs: {e}")))?;
    if old.is_empty() {
        return Ok(0);
    }
    let gone = node
        .job("blobs.collect", move |c| c.unreferenced_blobs(old))
        .await?;
    let n = gone.len();
    tokio::task::spawn_blocking(move || {
        for id in gone {
            match blobs.remove(&id) {
                Ok(()) => tracing::info!(blob = %id, "a file nothing references any more was removed"),
                Err(e) => tracing::warn!(blob = %id, error = %e, "an unreferenced file could not be removed"),
            }
        }
    })
    .await
    .map_err(|e| NodeError::Invalid(format!("removing blobs: {e}")))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types_are_kept_harmless() {
        assert_eq!(clean_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(clean_name("C:\\Users\\me\\photo.jpg").unwrap(), "photo.jpg");
        assert_eq!(clean_name("a\u{0}b\nc.txt").unwrap(), "abc.txt");
        assert_eq!(clean_name("..").unwrap(), "file");
        assert_eq!(clean_name(&"é".repeat(300)).unwrap().len(), 254);
        assert_eq!(clean_type("Image/PNG; charset=x").unwrap(), "image/png");
        assert_eq!(
            clean_type("text/html<script>").unwrap(),
            "application/octet-stream"
        );
        assert_eq!(clean_type("").unwrap(), "application/octet-stream");
    }
}
