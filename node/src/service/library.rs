//! A group's document library: folders of documents, each with its versions.
//!
//! A document is a thread marked as a library document (`weft_crdt::ThreadExtras::library`),
//! so it travels, is confined to its group's sites and is judged exactly like the group's
//! other threads: its first post is the first version, each later version a reply carrying
//! the new file in the same signed change, with a note of what changed; who changed what is
//! each version's author and time. **Restoring** an old version makes it the newest again
//! (a new version with the old file: nothing is rewritten, history only grows). Any member
//! files a document in a folder (`/` separates folders); a folder exists while a document
//! is in it. Library documents are listed in the library, not among the group's threads.

use std::collections::BTreeSet;

use weft_crdt::{AttachmentView, DocId, ThreadExtras, ThreadView};

use super::{Access, Service, Viewer};
use crate::error::NodeError;

/// The most documents a library lists.
pub const LIBRARY_MAX: usize = 2_000;

/// One version of a document.
#[derive(Debug, Clone)]
pub struct Version {
    /// Its post (for restoring it).
    pub post: String,
    /// Its number, from 1.
    pub number: usize,
    pub author: String,
    pub at: i64,
    /// What changed, as its author wrote it.
    pub note: String,
    pub file: AttachmentView,
}

/// A document of a library, its newest version last.
#[derive(Debug, Clone)]
pub struct LibraryDoc {
    pub thread: DocId,
    pub title: String,
    pub folder: String,
    pub versions: Vec<Version>,
}

impl LibraryDoc {
    /// The document as its thread says; `None` for a thread that is no library document.
    pub fn of(t: &ThreadView) -> Option<LibraryDoc> {
        let folder = t.library.clone()?;
        let versions = t
            .posts
            .iter()
            .filter(|p| !p.deleted && !p.hidden)
            .filter_map(|p| Some((p, p.attachments.first()?)))
            .enumerate()
            .map(|(i, (p, a))| Version {
                post: p.id.clone(),
                number: i + 1,
                author: p.author.clone(),
                at: p.created_at,
                note: p.body.clone(),
                file: a.clone(),
            })
            .collect();
        Some(LibraryDoc {
            thread: t.id.clone(),
            title: t.title.clone(),
            folder,
            versions,
        })
    }

    /// The newest version.
    pub fn current(&self) -> Option<&Version> {
        self.versions.last()
    }
}

/// A group's library.
#[derive(Debug, Clone)]
pub struct Library {
    pub group: DocId,
    pub group_name: String,
    /// Every folder that holds a document, and the folders above them, in order.
    pub folders: Vec<String>,
    /// The documents, by folder then title.
    pub documents: Vec<LibraryDoc>,
}

impl Service {
    /// A group's library; `NotFound` unless the viewer reads the group.
    pub async fn library(&self, v: &Viewer, group: &DocId) -> Result<Library, NodeError> {
        let reader = self.reader();
        let Some((g, Access::Full)) = reader.group(v.id(), group) else {
            return Err(NodeError::NotFound);
        };
        let ids: Vec<DocId> = reader
            .model()
            .library_of(group)
            .take(LIBRARY_MAX)
            .cloned()
            .collect();
        let mut documents: Vec<LibraryDoc> = self
            .threads_for(v, ids)
            .await?
            .iter()
            .filter(|t| t.group == *group)
            .filter_map(|t| LibraryDoc::of(t))
            .filter(|d| !d.versions.is_empty())
            .collect();
        documents.sort_by_cached_key(|d| {
            (
                crate::readmodel::fold(&d.folder),
                crate::readmodel::fold(&d.title),
            )
        });
        let mut folders = BTreeSet::new();
        for d in &documents {
            let mut path = String::new();
            for part in d.folder.split('/').filter(|p| !p.is_empty()) {
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(part);
                folders.insert(path.clone());
            }
        }
        Ok(Library {
            group: group.clone(),
            group_name: g.name.clone(),
            folders: folders.into_iter().collect(),
            documents,
        })
    }

    /// One library document; `NotFound` unless the viewer reads it and it is one.
    pub async fn document(&self, v: &Viewer, doc: &DocId) -> Result<LibraryDoc, NodeError> {
        let t = self.thread(v, doc).await?;
        LibraryDoc::of(&t).ok_or(NodeError::NotFound)
    }

    /// Adds a document to a group's library: the viewer's upload `file` is its first
    /// version, titled `title` (the file's name if empty), in `folder`, with `note`.
    pub async fn add_document(
        &self,
        v: &Viewer,
        group: &DocId,
        folder: &str,
        title: &str,
        note: &str,
        file: &str,
    ) -> Result<DocId, NodeError> {
        let files = self.own_uploads(v, &[file.to_owned()])?;
        let title = match title.trim() {
            "" => files[0].name.clone(),
            t => t.to_owned(),
        };
        let note = match note.trim() {
            "" => "Version 1".to_owned(),
            n => n.to_owned(),
        };
        let (me, g, folder) = (v.0.clone(), group.clone(), folder.to_owned());
        let (now, nonce) = (self.now_ms(), self.nonce()?);
        self.run("library.add", move |c| {
            let extras = ThreadExtras {
                library: Some(&folder),
                files: &files,
                ..ThreadExtras::default()
            };
            c.create_thread_ext(&me, &g, &title, &note, extras, now, nonce)
        })
        .await
    }

    /// A new version of a document: the viewer's upload `file`, with `note`. Returns its
    /// post.
    pub async fn new_version(
        &self,
        v: &Viewer,
        doc: &DocId,
        note: &str,
        file: &str,
    ) -> Result<String, NodeError> {
        let current = self.document(v, doc).await?;
        let files = self.own_uploads(v, &[file.to_owned()])?;
        let note = match note.trim() {
            "" => format!("Version {}", current.versions.len() + 1),
            n => n.to_owned(),
        };
        self.post_version(v, doc, note, files).await
    }

    /// Makes version `post` of a document the newest again (a new version with its file).
    pub async fn restore_version(
        &self,
        v: &Viewer,
        doc: &DocId,
        post: &str,
    ) -> Result<String, NodeError> {
        let d = self.document(v, doc).await?;
        let old = d
            .versions
            .iter()
            .find(|x| x.post == post)
            .ok_or(NodeError::NotFound)?;
        let f = &old.file;
        let file = weft_crdt::Attachment {
            hash: f.hash.clone(),
            size: f.size,
            media_type: f.media_type.clone(),
            name: f.name.clone(),
            thumbnail: f
                .thumbnail
                .clone()
                .map(|(hash, size, media_type)| weft_crdt::Thumbnail {
                    hash,
                    size,
                    media_type,
                }),
            text: (!f.text.is_empty()).then(|| f.text.clone()),
        };
        let note = format!("Version {} restored", old.number);
        self.post_version(v, doc, note, vec![file]).await
    }

    async fn post_version(
        &self,
        v: &Viewer,
        doc: &DocId,
        note: String,
        files: Vec<weft_crdt::Attachment>,
    ) -> Result<String, NodeError> {
        let (me, t) = (v.0.clone(), doc.clone());
        let (now, nonce) = (self.now_ms(), self.nonce()?);
        self.run("library.version", move |c| {
            c.require_thread(&me, &t)?;
            c.local(&me, |r, a| {
                let (change, post) = r.reply_files(a, &t, &note, &files, now, nonce)?;
                Ok((post, vec![change]))
            })
        })
        .await
    }

    /// Files a document in another folder (any member of its group).
    pub async fn move_document(
        &self,
        v: &Viewer,
        doc: &DocId,
        folder: &str,
    ) -> Result<(), NodeError> {
        self.document(v, doc).await?;
        let (me, t, folder, now) = (v.0.clone(), doc.clone(), folder.to_owned(), self.now_ms());
        self.run("library.move", move |c| {
            c.require_thread(&me, &t)?;
            c.local_one(&me, |r, a| r.move_document(a, &t, &folder, now))
        })
        .await
    }
}
