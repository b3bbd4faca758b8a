//! The service API: what an employee may see and do, typed. The web layer calls [`Service`]
//! and nothing else of the node: no [`Core`], no store, no engine.
//!
//! A [`Service`] is cheap to clone; it holds the running node's [`NodeHandle`], the clock and
//! the random source the node was started with ([`crate::clock`]). Every method takes the
//! [`Viewer`] it acts for (the authenticated employee; the web layer makes one from a
//! session) and returns typed results — the views of `weft-crdt` and the read models, and
//! the small structs of this module for pages that gather several — or a [`NodeError`].
//!
//! **Reads** are answered off the loop, by the [`crate::Reader`], wherever it can: the feed,
//! groups and a group's page, a group's threads, kept thread and profile views,
//! notifications and unread counts, settings, follows, people search, the directory. What
//! it cannot answer (a thread or profile no one read lately, pictures, search and topics,
//! the node's peers, a group's full thread list) is one named job on the loop, which keeps
//! what it read back for the next readers.
//!
//! **Writes** go through the loop as named jobs ([`NodeHandle::job`]: their durations are
//! `weft_job_seconds{job}` in `/metrics`) and are answered after the flush that makes them
//! durable. The one exception is the read marker a thread page leaves: it is sent without
//! being waited for — a read marker is not something a user is told is saved — and readers
//! count it at once, so that reading a thread never waits for a flush.
//!
//! **Time and randomness** are drawn here, from the node's clock and random source: commands
//! take no `now` or nonce from their caller, and the web layer asks [`Service::now_ms`],
//! [`Service::nonce`] and [`Service::token`] rather than the system.
//!
//! Who may see what is decided by [`crate::access`]: anything not visible is reported as
//! not found (its existence does not leak); what is visible but members-only is forbidden.
//!
//! The modules, one per area: `groups` (groups, members, the All company group), `threads`
//! (threads, posts, reactions, read markers), `feed` (the home feed, topics), `people`
//! (people, profiles, pictures), `personal` (notifications, follows, settings, the usage
//! charter), `search`, and `admin` (accounts, password hashes, sessions, node status,
//! health, metrics and live events).
//!
//! ```no_run
//! # async fn run(running: weft_node::Running) -> Result<(), weft_node::NodeError> {
//! use weft_node::crdt::Visibility;
//! use weft_node::service::Viewer;
//!
//! let service = running.service();
//! let me = Viewer::new("hdupre");
//! let group = service
//!     .create_group(&me, "Photo club", "Pictures", Visibility::Public)
//!     .await?;
//! let thread = service
//!     .create_thread(&me, &group, "Outing", "Saturday, #photo")
//!     .await?;
//! let feed = service.feed(&me, None, 30).await?;
//! assert_eq!(feed[0].thread.id, thread);
//! # Ok(())
//! # }
//! ```

mod admin;
mod analytics;
mod cards;
mod community;
mod content;
mod events;
mod feed;
mod files;
mod following;
mod groups;
mod library;
mod mail;
mod people;
mod personal;
mod polls;
mod search;
mod subscriptions;
mod syndication;
mod threads;

use weft_crdt::{DocId, DocKind};

use crate::clock::{SharedClock, SharedRng};
use crate::core::Core;
use crate::error::NodeError;
use crate::run::NodeHandle;

pub use crate::access::Access;
pub use crate::blobs::ByteRange;
pub use crate::personal::{DigestEvery, MailPrefs};
pub use crate::reader::{FeedItem, founding_site};
pub use crate::readmodel::{ALL_COMPANY_NONCE, fold, last_activity};
pub use crate::readmodel::{EventTimes, ThreadSummary};
pub use crate::store::SessionRecord;
pub use admin::{NodeStatus, PeerStatus};
pub(crate) use analytics::note_taking_part;
pub use analytics::{
    Analytics, Counts, GroupActivity, MAX_WEEKS, SiteWeek, TOP, last_weeks, stats_author, week_of,
};
pub use cards::Card;
pub use community::{DUPLICATES_MAX, GroupCard, QUEUE_MAX, Reported, SIMILAR_MAX};
pub use content::{Bookmark, MAX_ANNOUNCEMENTS, MAX_BOOKMARKS, MAX_WALL_THREADS, Wall};
pub use events::{AGENDA_AHEAD_MS, AGENDA_MAX, AGENDA_OTHERS_MAX, AGENDA_PAST_MS, EventItem};
pub use feed::TOPIC_POSTS;
pub use files::{COLLECT_MAX, FileInfo, MAX_FILE_NAME, UNREFERENCED_GRACE, collect_blobs};
pub use following::{
    FIRST_ITEMS, FollowedFeed, ITEMS_PER_FETCH, MAX_FEEDS_PER_GROUP, MAX_URL, SEEN_KEPT,
};
pub use groups::{ALL_COMPANY, GroupEdit, GroupPage, Member, MembershipOutcome, is_reserved_name};
pub use library::{LIBRARY_MAX, Library, LibraryDoc, Version};
pub use people::{DirectoryFilter, DirectoryPage, Person, PersonPage, ProfileEdit};
pub use personal::{NoticeKind, Notification, Settings};
pub use polls::PollResults;
pub use search::{Hit, HitKind, SearchQuery, SearchResult};
pub use subscriptions::Subscription;
pub use syndication::{FEED_ENTRIES, Syndicated};
pub use threads::ThreadPage;

/// The employee a request acts for, authenticated by the web layer (from a session).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Viewer(pub String);

impl Viewer {
    pub fn new(employee: impl Into<String>) -> Viewer {
        Viewer(employee.into())
    }

    /// Their employee id.
    pub fn id(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Viewer {
    fn from(employee: &str) -> Viewer {
        Viewer(employee.to_owned())
    }
}

impl From<String> for Viewer {
    fn from(employee: String) -> Viewer {
        Viewer(employee)
    }
}

impl std::fmt::Display for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The service API of a running node. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    node: NodeHandle,
    clock: SharedClock,
    rng: SharedRng,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Service({:?}, {:?})", self.node, self.clock)
    }
}

impl Service {
    /// The service of the node behind `node`, reading `clock` and `rng` (those the node was
    /// started with: see [`crate::Running::service`]).
    pub fn new(node: NodeHandle, clock: SharedClock, rng: SharedRng) -> Service {
        Service { node, clock, rng }
    }

    /// The time, by the node's clock (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A random number (a new document's genesis nonce, a file name that must not clash).
    pub fn nonce(&self) -> Result<u64, NodeError> {
        self.rng.u64()
    }

    /// `N` random bytes.
    pub fn random<const N: usize>(&self) -> Result<[u8; N], NodeError> {
        let mut b = [0u8; N];
        self.rng.fill(&mut b)?;
        Ok(b)
    }

    /// 32 random bytes as hex: a session's token, a form's token, a setup link's.
    pub fn token(&self) -> Result<String, NodeError> {
        Ok(weft_keys::to_hex(&self.random::<32>()?))
    }

    fn reader(&self) -> &crate::Reader {
        self.node.reader()
    }

    /// Whether the viewer is an active community manager (the directory's role).
    fn is_community_manager(&self, v: &Viewer) -> bool {
        self.reader()
            .directory()
            .active_employee(v.id())
            .is_some_and(|e| e.roles.contains(&weft_keys::Role::CommunityManager))
    }

    /// Runs `f` on the loop as the job `name`; answered after the flush if it wrote.
    async fn run<T: Send + 'static>(
        &self,
        name: &'static str,
        f: impl FnOnce(&mut Core) -> Result<T, NodeError> + Send + 'static,
    ) -> Result<T, NodeError> {
        self.node.job(name, f).await?
    }
}

impl crate::run::Running {
    /// The service API of this node (what the web layer calls), with the clock and the
    /// random source it was started with.
    pub fn service(&self) -> Service {
        Service::new(self.handle.clone(), self.clock.clone(), self.rng.clone())
    }
}

/// A post's id in the API: the thread's id and the post's id within it.
pub fn post_ref(thread: &DocId, post: &str) -> String {
    format!("{thread}~{post}")
}

/// Splits a post reference made by [`post_ref`].
pub fn parse_post_ref(s: &str) -> Option<(DocId, String)> {
    let (t, p) = s.split_once('~')?;
    let t = DocId::parse(t).ok()?;
    (t.kind() == DocKind::Thread && !p.is_empty()).then(|| (t, p.to_owned()))
}

impl Core {
    /// What `employee` may see of a group (from the read model: no document is read).
    pub fn group_access(&self, employee: &str, group: &DocId) -> Access {
        crate::access::group(&self.model(), employee, group)
    }

    /// That `employee` has at least `at_least` access to `group`. Missing access to a group
    /// they cannot see at all is "not found" (its existence does not leak); to a group whose
    /// listing they see, "forbidden".
    fn require(&self, employee: &str, group: &DocId, at_least: Access) -> Result<(), NodeError> {
        let a = self.group_access(employee, group);
        let ok = match at_least {
            Access::Full => a == Access::Full,
            Access::Listing => a != Access::None,
            Access::None => true,
        };
        match (ok, a) {
            (true, _) => Ok(()),
            (false, Access::None) => Err(NodeError::NotFound),
            (false, _) => Err(NodeError::Forbidden(
                "only the group's members may do this".into(),
            )),
        }
    }

    /// A local command that makes one change.
    fn local_one(
        &mut self,
        employee: &str,
        f: impl FnOnce(
            &mut weft_crdt::Replica,
            &weft_crdt::Author,
        ) -> Result<weft_crdt::SignedChange, weft_crdt::LocalError>,
    ) -> Result<(), NodeError> {
        self.local(employee, |r, me| Ok(((), vec![f(r, me)?])))
    }
}
