//! Walls, question threads, pinned threads, announcements and bookmarks.
//!
//! * A **wall** is a thread of the All company group marked with its owner (`wall_of`):
//!   every employee reads it (the group is public and at every site) and writes on it; its
//!   owner hides what does not belong there (the write rules let a wall's owner moderate
//!   it). The first post on someone's wall starts the thread; two sites starting one at the
//!   same moment make two, which the wall shows as one (posts in time order).
//! * A **question** is a thread whose asker (or a group owner, or a community manager)
//!   marks one reply the best answer.
//! * Group owners and community managers **pin** threads at the top of their group.
//! * An **announcement** is a thread of All company made by a community manager or the
//!   directory's `communication` role, for everyone or one site's people, shown above the
//!   feed until it expires or the reader dismisses it.
//! * **Bookmarks** are the employee's own, kept at their home node only (never replicated:
//!   nobody else has any use for them), of posts of any site they may read.

use std::sync::Arc;

use weft_crdt::{AnnouncementView, DocId, NewAnnouncement, ThreadExtras, ThreadView};

use super::{Access, Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;
use crate::readmodel::ThreadSummary;

/// The most announcements a feed shows at once.
pub const MAX_ANNOUNCEMENTS: usize = 5;
/// The most bookmarks an employee keeps.
pub const MAX_BOOKMARKS: usize = 5_000;
/// The most wall threads a wall shows (normally one; more only if several sites started
/// one at the same moment, or a site made many on purpose).
pub const MAX_WALL_THREADS: usize = 8;

/// Someone's wall: their wall threads (oldest first; usually one).
#[derive(Debug, Clone)]
pub struct Wall {
    pub owner: String,
    pub threads: Vec<Arc<ThreadView>>,
}

impl Wall {
    /// Every post of the wall in time order, each with its thread.
    pub fn posts(&self) -> Vec<(&DocId, &weft_crdt::PostView)> {
        let mut all: Vec<(&DocId, &weft_crdt::PostView)> = self
            .threads
            .iter()
            .flat_map(|t| t.posts.iter().map(move |p| (&t.id, p)))
            .collect();
        all.sort_by(|a, b| (a.1.created_at, &a.1.id).cmp(&(b.1.created_at, &b.1.id)));
        all
    }
}

/// A bookmark: a post the employee kept, as they may see it now.
#[derive(Debug, Clone)]
pub struct Bookmark {
    pub thread: ThreadSummary,
    /// The post kept (the thread's first when the whole thread was).
    pub post: String,
    /// When it was kept (ms).
    pub at: i64,
}

impl Service {
    /// `employee`'s wall (empty until someone writes on it); `NotFound` for someone the
    /// directory does not know.
    pub async fn wall(&self, v: &Viewer, employee: &str) -> Result<Wall, NodeError> {
        if !self.reader().directory().employees.contains_key(employee) {
            return Err(NodeError::NotFound);
        }
        // The oldest few: a site that made thousands of walls for someone shows nothing more.
        let ids: Vec<DocId> = {
            let model = self.reader().model();
            let mut walls: Vec<(i64, DocId)> = model
                .walls_of(employee)
                .filter_map(|t| Some((model.thread(t)?.created_at, t.clone())))
                .collect();
            walls.sort();
            walls
                .into_iter()
                .take(MAX_WALL_THREADS)
                .map(|(_, t)| t)
                .collect()
        };
        let mut threads = self.threads_for(v, ids).await?;
        threads.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(Wall {
            owner: employee.to_owned(),
            threads,
        })
    }

    /// Writes on `employee`'s wall (an active employee's); returns the thread and post.
    pub async fn post_on_wall(
        &self,
        v: &Viewer,
        employee: &str,
        body: &str,
    ) -> Result<(DocId, String), NodeError> {
        let (me, owner, body) = (v.0.clone(), employee.to_owned(), body.to_owned());
        let (now, nonce) = (self.now_ms(), self.nonce()?);
        self.run("walls.post", move |c| {
            c.post_on_wall(&me, &owner, &body, now, nonce)
        })
        .await
    }

    /// Starts a question thread.
    pub async fn ask(
        &self,
        v: &Viewer,
        group: &DocId,
        title: &str,
        body: &str,
    ) -> Result<DocId, NodeError> {
        let (me, g, title, body) = (
            v.0.clone(),
            group.clone(),
            title.to_owned(),
            body.to_owned(),
        );
        let (now, nonce) = (self.now_ms(), self.nonce()?);
        self.run("threads.ask", move |c| {
            let extras = ThreadExtras {
                question: true,
                ..ThreadExtras::default()
            };
            c.create_thread_ext(&me, &g, &title, &body, extras, now, nonce)
        })
        .await
    }

    /// Marks a reply the best answer of a question (`None` unmarks it): the asker, a group
    /// owner or a community manager.
    pub async fn set_best_answer(
        &self,
        v: &Viewer,
        thread: &DocId,
        post: Option<&str>,
    ) -> Result<(), NodeError> {
        let t = self.thread(v, thread).await?;
        if !t.question {
            return Err(NodeError::Invalid("this thread is not a question".into()));
        }
        if let Some(p) = post
            && !t.posts.iter().skip(1).any(|x| x.id == p && !x.deleted)
        {
            return Err(NodeError::Invalid(
                "the best answer is one of the thread's replies".into(),
            ));
        }
        if t.best_answer.as_deref() == post {
            return Ok(());
        }
        let (me, t, p, now) = (
            v.0.clone(),
            thread.clone(),
            post.map(str::to_owned),
            self.now_ms(),
        );
        self.run("threads.best_answer", move |c| {
            c.set_best_answer(&me, &t, p.as_deref(), now)
        })
        .await
    }

    /// Pins (or unpins) a thread at the top of its group: group owners and community
    /// managers (others: forbidden, by the write rules).
    pub async fn pin_thread(&self, v: &Viewer, thread: &DocId, on: bool) -> Result<(), NodeError> {
        let t = self.thread(v, thread).await?;
        if t.pinned == on {
            return Ok(());
        }
        let (me, t, now) = (v.0.clone(), thread.clone(), self.now_ms());
        self.run("threads.pin", move |c| {
            c.pin_thread(&me, &t, on, now).map_err(|e| match e {
                NodeError::Local(weft_crdt::LocalError::Refused(_)) => {
                    NodeError::Forbidden("group owners and community managers pin threads".into())
                }
                e => e,
            })
        })
        .await
    }

    /// Every site of the directory (id, name).
    pub fn sites(&self) -> Vec<(String, String)> {
        self.reader()
            .directory()
            .sites
            .values()
            .map(|s| (s.id.to_string(), s.name.clone()))
            .collect()
    }

    /// Whether the viewer may make announcements (a community manager, or the directory's
    /// `communication` role).
    pub fn may_announce(&self, v: &Viewer) -> bool {
        self.reader()
            .directory()
            .active_employee(v.id())
            .is_some_and(|e| {
                e.roles.iter().any(|r| {
                    matches!(
                        r,
                        weft_keys::Role::CommunityManager | weft_keys::Role::Communication
                    )
                })
            })
    }

    /// Posts an announcement to All company (for everyone, or for `site`'s people) until
    /// `expires_at` (ms): community managers and the directory's `communication` role.
    pub async fn announce(
        &self,
        v: &Viewer,
        title: &str,
        body: &str,
        site: Option<&str>,
        expires_at: i64,
    ) -> Result<DocId, NodeError> {
        let dir = self.reader().directory();
        let me = dir.active_employee(v.id()).ok_or(NodeError::NotFound)?;
        if !me.roles.iter().any(|r| {
            matches!(
                r,
                weft_keys::Role::CommunityManager | weft_keys::Role::Communication
            )
        }) {
            return Err(NodeError::Forbidden(
                "only community managers and communication make announcements".into(),
            ));
        }
        if let Some(s) = site
            && !dir.sites.contains_key(s)
        {
            return Err(NodeError::Invalid(format!("no site {s} in the directory")));
        }
        let now = self.now_ms();
        if expires_at <= now {
            return Err(NodeError::Invalid(
                "an announcement expires in the future".into(),
            ));
        }
        let (who, title, body) = (v.0.clone(), title.to_owned(), body.to_owned());
        let ann = NewAnnouncement {
            site: site.map(str::to_owned),
            expires_at,
        };
        let nonce = self.nonce()?;
        self.run("announcements.create", move |c| {
            let all = c.all_company().ok_or_else(|| {
                NodeError::Invalid("the All company group has not reached this site yet".into())
            })?;
            let extras = ThreadExtras {
                announcement: Some(&ann),
                ..ThreadExtras::default()
            };
            c.create_thread_ext(&who, &all, &title, &body, extras, now, nonce)
        })
        .await
    }

    /// The announcements in force for the viewer (their site's and everyone's, not expired,
    /// not dismissed), newest first.
    pub fn announcements(
        &self,
        v: &Viewer,
    ) -> Result<Vec<(ThreadSummary, AnnouncementView)>, NodeError> {
        let reader = self.reader();
        let site = reader
            .directory()
            .employees
            .get(v.id())
            .map(|e| e.site.to_string())
            .unwrap_or_default();
        let now = self.now_ms();
        let dismissed = reader.dismissed(v.id())?;
        let model = reader.model();
        let mut out: Vec<(ThreadSummary, AnnouncementView)> = model
            .announcements()
            .filter(|(t, a)| {
                a.expires_at > now
                    && a.site.as_deref().is_none_or(|s| s == site)
                    && !dismissed.contains(&t.id)
                    && crate::access::group(&model, v.id(), &t.group) == Access::Full
            })
            .map(|(t, a)| (t.clone(), a.clone()))
            .collect();
        out.sort_by_key(|a| std::cmp::Reverse(a.0.created_at));
        out.truncate(MAX_ANNOUNCEMENTS);
        Ok(out)
    }

    /// Dismisses an announcement for the viewer.
    pub async fn dismiss(&self, v: &Viewer, thread: &DocId) -> Result<(), NodeError> {
        if self
            .reader()
            .model()
            .thread(thread)
            .and_then(|t| t.announcement.as_ref())
            .is_none()
        {
            return Err(NodeError::NotFound);
        }
        let (me, t) = (v.0.clone(), thread.clone());
        self.run("announcements.dismiss", move |c| {
            c.store().set_dismissed(&me, &t)?;
            Ok(())
        })
        .await
    }

    /// Keeps (`on`) or forgets a post among the viewer's bookmarks.
    pub async fn bookmark(
        &self,
        v: &Viewer,
        thread: &DocId,
        post: &str,
        on: bool,
    ) -> Result<(), NodeError> {
        if on {
            self.post(v, thread, post).await?;
            if self.reader().bookmarks(v.id())?.len() >= MAX_BOOKMARKS
                && !self.is_bookmarked(v, thread, post)?
            {
                return Err(NodeError::Invalid(format!(
                    "at most {MAX_BOOKMARKS} bookmarks: forget some first"
                )));
            }
        }
        let (me, t, p, now) = (v.0.clone(), thread.clone(), post.to_owned(), self.now_ms());
        self.run("bookmarks.set", move |c| {
            c.store().set_bookmark(&me, &t, &p, on.then_some(now))?;
            Ok(())
        })
        .await
    }

    /// The viewer's bookmarks they may still read, newest first.
    pub fn bookmarks(&self, v: &Viewer) -> Result<Vec<Bookmark>, NodeError> {
        let reader = self.reader();
        let kept = reader.bookmarks(v.id())?;
        let model = reader.model();
        let mut out: Vec<Bookmark> = kept
            .into_iter()
            .filter_map(|(thread, post, at)| {
                let t = model.thread(&thread)?;
                (crate::access::group(&model, v.id(), &t.group) == Access::Full).then(|| Bookmark {
                    thread: t.clone(),
                    post,
                    at,
                })
            })
            .collect();
        out.sort_by_key(|b| std::cmp::Reverse(b.at));
        Ok(out)
    }

    /// Whether the viewer keeps `post` of `thread`.
    pub fn is_bookmarked(&self, v: &Viewer, thread: &DocId, post: &str) -> Result<bool, NodeError> {
        Ok(self
            .reader()
            .bookmarks(v.id())?
            .iter()
            .any(|(t, p, _)| t == thread && p == post))
    }

    /// The threads of `ids` the viewer may read, in that order: those kept for readers off
    /// the loop, the others read in one job (and kept).
    pub(super) async fn threads_for(
        &self,
        v: &Viewer,
        ids: Vec<DocId>,
    ) -> Result<Vec<Arc<ThreadView>>, NodeError> {
        let reader = self.reader();
        let mut found: Vec<Option<Arc<ThreadView>>> = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            match reader.thread(v.id(), id) {
                Ok(Some(t)) => found.push(Some(t)),
                Ok(None) => {
                    found.push(None);
                    missing.push((i, id.clone()));
                }
                Err(_) => found.push(None),
            }
        }
        if !missing.is_empty() {
            let me = v.0.clone();
            let read = self
                .run("threads.read_many", move |c| {
                    Ok(missing
                        .into_iter()
                        .map(|(i, id)| (i, c.thread_view_for(&me, &id)))
                        .collect::<Vec<_>>())
                })
                .await?;
            for (i, t) in read {
                found[i] = t;
            }
        }
        Ok(found.into_iter().flatten().collect())
    }
}

impl Core {
    /// Marks (or unmarks) the best answer of a question thread.
    pub fn set_best_answer(
        &mut self,
        employee: &str,
        thread: &DocId,
        post: Option<&str>,
        now: i64,
    ) -> Result<(), NodeError> {
        self.require_thread(employee, thread)?;
        self.local_one(employee, |r, a| r.set_best_answer(a, thread, post, now))
    }

    /// Pins (or unpins) a thread in its group.
    pub fn pin_thread(
        &mut self,
        employee: &str,
        thread: &DocId,
        on: bool,
        now: i64,
    ) -> Result<(), NodeError> {
        self.local_one(employee, |r, a| r.pin_thread(a, thread, on, now))
    }

    /// Starts a thread with extras (see [`ThreadExtras`]).
    #[allow(clippy::too_many_arguments)]
    pub fn create_thread_ext(
        &mut self,
        employee: &str,
        group: &DocId,
        title: &str,
        body: &str,
        extras: ThreadExtras<'_>,
        now: i64,
        nonce: u64,
    ) -> Result<DocId, NodeError> {
        self.require(employee, group, Access::Full)?;
        self.local(employee, |r, me| {
            let (t, l) = r.create_thread_ext(me, group, title, body, extras, now, nonce)?;
            Ok((t.doc().clone(), vec![t, l]))
        })
    }

    /// Writes on `owner`'s wall: a reply in their oldest wall thread, or a new one.
    pub fn post_on_wall(
        &mut self,
        employee: &str,
        owner: &str,
        body: &str,
        now: i64,
        nonce: u64,
    ) -> Result<(DocId, String), NodeError> {
        let name = self
            .replica()
            .directory()
            .and_then(|d| {
                d.directory
                    .active_employee(owner)
                    .map(|e| e.display_name.clone())
            })
            .ok_or(NodeError::NotFound)?;
        let oldest = self
            .model()
            .walls_of(owner)
            .filter_map(|t| self.model().thread(t).map(|s| (s.created_at, t.clone())))
            .min();
        match oldest {
            Some((_, thread)) => {
                let pid = self.reply(employee, &thread, body, None, now, nonce)?;
                Ok((thread, pid))
            }
            None => {
                let all = self.all_company().ok_or_else(|| {
                    NodeError::Invalid("the All company group has not reached this site yet".into())
                })?;
                let extras = ThreadExtras {
                    wall_of: Some(owner),
                    ..ThreadExtras::default()
                };
                let tid =
                    self.create_thread_ext(employee, &all, &name, body, extras, now, nonce)?;
                let pid = self
                    .thread_for(employee, &tid)
                    .and_then(|v| v.posts.first().map(|p| p.id.clone()))
                    .unwrap_or_default();
                Ok((tid, pid))
            }
        }
    }
}
