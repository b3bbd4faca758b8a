//! What the web layer needs to run the node for its employees and its operators: accounts
//! and password hashes, sessions, the node's status and health, metrics and live events.
//! The web layer checks who may call these (sessions, operator tokens); the service trusts
//! it to.

use weft_crdt::DocId;

use super::{Access, Service, Viewer};
use crate::error::NodeError;
use crate::metrics::Metrics;
use crate::run::Live;
use crate::store::SessionRecord;

/// A peer site, as the node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub site: String,
    /// Its node's libp2p peer id ("" if the directory gives it no node key).
    pub peer_id: String,
    /// Whether a sync session with it is open.
    pub connected: bool,
}

/// The node: its site, peers and what it stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub site: String,
    pub peer_id: String,
    pub peers: Vec<PeerStatus>,
    pub documents: u64,
    pub changes: u64,
    pub change_bytes: u64,
    pub directory_version: u64,
    /// Files stored here: bytes, how many, and the site's quota in bytes (0: none).
    pub file_bytes: u64,
    pub files: u64,
    pub files_quota: u64,
}

impl Service {
    /// The active employee homed at this node whose id (in any case) or e-mail is `login`,
    /// with their password hash if they have set one. Off the loop.
    pub async fn account(
        &self,
        login: &str,
    ) -> Result<Option<(String, Option<String>)>, NodeError> {
        self.reader().account(login)
    }

    /// Whether the directory lists `employee` as active and homed here (only they have
    /// accounts and sessions here). Off the loop.
    pub fn homed_here(&self, employee: &str) -> bool {
        self.reader().homed_here(employee)
    }

    /// Sets `employee`'s password hash (a PHC string) and counts it as a login; answered
    /// once durable.
    pub async fn set_password_hash(&self, employee: &str, phc: &str) -> Result<(), NodeError> {
        let (who, phc, now) = (employee.to_owned(), phc.to_owned(), self.now_ms());
        self.run("admin.set_password", move |c| {
            c.store().set_password_hash(&who, &phc)?;
            c.on_login(&who, now)?;
            Ok(())
        })
        .await
    }

    /// Called at each login of `employee`: the first one starts their settings.
    pub async fn logged_in(&self, employee: &str) -> Result<(), NodeError> {
        let (who, now) = (employee.to_owned(), self.now_ms());
        self.run("admin.login", move |c| c.on_login(&who, now).map(|_| ()))
            .await
    }

    /// Every stored web session, by the digest of its token. Off the loop.
    pub async fn sessions(&self) -> Result<Vec<([u8; 32], SessionRecord)>, NodeError> {
        self.reader().sessions()
    }

    /// Stores a session; answered once durable.
    pub async fn put_session(
        &self,
        digest: [u8; 32],
        record: SessionRecord,
    ) -> Result<(), NodeError> {
        self.run("admin.put_session", move |c| {
            c.store().put_session(&digest, &record)?;
            // A session used this week: its employee was active (see `analytics`).
            c.store().note_usage(
                &super::analytics::week_of(record.last_used),
                crate::store::UsageKind::Active,
                "-",
                &record.employee,
            )?;
            Ok(())
        })
        .await
    }

    /// Forgets sessions; answered once durable.
    pub async fn remove_sessions(&self, digests: Vec<[u8; 32]>) -> Result<(), NodeError> {
        self.run("admin.remove_sessions", move |c| {
            for d in &digests {
                c.store().remove_session(d)?;
            }
            Ok(())
        })
        .await
    }

    /// Forgets every session of `employee`; answered once durable. Returns how many.
    pub async fn end_sessions_of(&self, employee: &str) -> Result<usize, NodeError> {
        let who = employee.to_owned();
        self.run("admin.end_sessions", move |c| {
            Ok(c.store().end_sessions_of(&who)?)
        })
        .await
    }

    /// The node's status: its site, its peers and whether each is connected, what it stores.
    pub async fn node_status(&self) -> Result<NodeStatus, NodeError> {
        let peer_id = self.node.peer_id().to_string();
        let (blobs, _) = self.node.blobs();
        let ((file_bytes, files), files_quota) = (blobs.usage(), blobs.quota());
        self.run("admin.status", move |c| {
            let connected: Vec<String> = c.engine().peers().map(str::to_owned).collect();
            let dir = c.replica().directory();
            let peers = dir
                .map(|d| {
                    d.directory
                        .sites
                        .values()
                        .filter(|s| s.id != c.site())
                        .map(|s| PeerStatus {
                            site: s.id.clone(),
                            peer_id: s
                                .node_key
                                .and_then(|k| crate::net::peer_id_of(&k))
                                .map(|p| p.to_string())
                                .unwrap_or_default(),
                            connected: connected.contains(&s.id),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let stats = c.store().stats();
            Ok(NodeStatus {
                site: c.site().to_owned(),
                peer_id,
                peers,
                documents: stats.documents,
                changes: stats.changes,
                change_bytes: stats.change_bytes,
                directory_version: dir.map_or(0, |d| d.version()),
                file_bytes,
                files,
                files_quota,
            })
        })
        .await
    }

    /// Whether the loop answers (a job that does nothing): the node is healthy.
    pub async fn health(&self) -> Result<(), NodeError> {
        self.run("admin.health", |_| Ok(())).await
    }

    /// Whether the viewer may see a live event about `doc`: the one rule of who may see
    /// what ([`crate::access::to_doc`]), as for every read.
    pub fn may_see(&self, v: &Viewer, doc: &DocId) -> bool {
        self.reader().doc_access(v.id(), doc) == Access::Full
    }

    /// Documents as they change, and employees as they get notifications (see
    /// [`crate::NodeHandle::subscribe`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Live> {
        self.node.subscribe()
    }

    /// The node's metrics, with the figures of its files read now.
    pub fn metrics(&self) -> &std::sync::Arc<Metrics> {
        let m = self.node.metrics();
        let (blobs, _) = self.node.blobs();
        let (bytes, count) = blobs.usage();
        Metrics::set(&m.files_bytes, bytes);
        Metrics::set(&m.files, count);
        Metrics::set(&m.files_quota_bytes, blobs.quota());
        m
    }

    /// The node's site.
    pub fn site(&self) -> &str {
        self.node.site()
    }

    /// The node's libp2p peer id.
    pub fn peer_id(&self) -> libp2p::PeerId {
        self.node.peer_id()
    }
}
