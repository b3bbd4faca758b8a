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
        let (id, size) = tokio::task::spawn_blocking(move || blobs.put(body, limit))
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
        let info = FileInfo {
            id: id.to_string(),
            size,
            media_type,
            name,
            at: self.now_ms(),
        };
        let (me, record) = (v.0.clone(), info.clone());
        self.run("files.upload", move |c| c.record_upload(&me, &record))
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
                if let Some(a) = p.attachments.iter().find(|a| a.hash == hash) {
                    let info = FileInfo {
                        id: a.hash.clone(),
                        size: a.size,
                        media_type: a.media_type.clone(),
                        name: a.name.clone(),
                        at: p.created_at,
                    };
                    let wanted = Wanted {
                        id: id.clone(),
                        size: a.size,
                        doc: t.id.clone(),
                        first: self.reader().employee(&p.author).map(|e| e.site),
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

impl Core {
    /// Records `employee`'s upload.
    pub fn record_upload(&mut self, employee: &str, info: &FileInfo) -> Result<(), NodeError> {
        let bytes = serde_json::to_vec(info)
            .map_err(|e| NodeError::Invalid(format!("an upload's record: {e}")))?;
        self.store().put_upload(employee, &info.id, &bytes)?;
        Ok(())
    }
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
