//! The runtime: one `tokio::select!` loop that owns the [`Core`] and the libp2p swarm.
//!
//! Inputs: jobs from the web layer (closures run on the core), swarm events, a timer. After
//! each batch of jobs the loop commits — appends and flushes the store — and only then
//! answers the jobs that wrote, so a command is acknowledged only once it is durable; jobs
//! that queued up meanwhile share one flush (group commit). Queries that run while nothing
//! is waiting for a flush are answered at once, so reads do not wait for a batch of writes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libp2p::futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::request_response;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, identity, mdns, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};
use weft_crdt::DocId;
use weft_crdt::sync::{Config as SyncConfig, Event};
use weft_keys::{Signed, TrustAnchors};

use crate::config::Config;
use crate::core::Core;
use crate::error::NodeError;
use crate::files;
use crate::metrics::Metrics;
use crate::net::{Behaviour, BehaviourEvent, Outgoing, site_peers};
use crate::store::Store;

type Deliver = Box<dyn FnOnce() + Send>;
type Job = Box<dyn FnOnce(&mut Core) -> Deliver + Send>;

/// How the web layer talks to a running node. Cheap to clone.
#[derive(Clone)]
pub struct NodeHandle {
    jobs: mpsc::Sender<Job>,
    reader: crate::Reader,
    events: tokio::sync::broadcast::Sender<Live>,
    metrics: Arc<Metrics>,
    site: String,
    peer_id: PeerId,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeHandle({}, {})", self.site, self.peer_id)
    }
}

impl NodeHandle {
    /// Runs `f` on the node's core. Answers after the store has been flushed, so anything `f`
    /// changed is durable when this returns.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> T + Send + 'static,
    ) -> Result<T, NodeError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |core| {
            let value = f(core);
            Box::new(move || {
                let _ = tx.send(value);
            })
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| NodeError::ShuttingDown)?;
        rx.await.map_err(|_| NodeError::ShuttingDown)
    }

    /// Documents as they change (durably), local or from peers, and employees as they get
    /// notifications: for live updates. A slow receiver misses events (`Lagged`) rather than
    /// slowing the node down.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Live> {
        self.events.subscribe()
    }

    /// Reads off the loop: answered on the caller's thread from the shared read models,
    /// never queued behind a commit, a flush or a sync burst (see [`crate::Reader`]).
    pub fn reader(&self) -> &crate::Reader {
        &self.reader
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn site(&self) -> &str {
        &self.site
    }

    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }
}

/// A live event, for the web layer's Server-Sent Events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// A document changed (durably).
    Changed(DocId),
    /// An employee homed here got a notification.
    Notified(String),
    /// A new directory version was installed (employees may have left or moved).
    Directory { version: u64 },
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A running node: its handle, and the task that ends when it stops.
pub struct Running {
    pub handle: NodeHandle,
    pub task: tokio::task::JoinHandle<Result<(), NodeError>>,
    /// The libp2p addresses it listens on, once known (filled as listeners come up).
    pub listening: Arc<std::sync::Mutex<Vec<Multiaddr>>>,
}

fn read_trust(paths: &[std::path::PathBuf]) -> Result<TrustAnchors, NodeError> {
    let mut roots = Vec::new();
    for p in paths {
        roots.push(files::read_public_key(p).map_err(|e| NodeError::Config(e.to_string()))?);
    }
    Ok(TrustAnchors { roots })
}

fn read_directory(path: &Path) -> Result<Option<weft_keys::directory::SignedDirectory>, NodeError> {
    if !path.exists() {
        return Ok(None);
    }
    let bytes = files::read(path).map_err(|e| NodeError::Config(e.to_string()))?;
    Signed::from_bytes(&bytes)
        .map(Some)
        .map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))
}

/// Starts a node from its configuration. Returns once the store is open and the listeners
/// are requested; the node runs until `shutdown` resolves.
pub async fn start(
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, NodeError> {
    let node_key =
        files::read_secret_key(&config.node_key).map_err(|e| NodeError::Config(e.to_string()))?;
    let trust = read_trust(&config.trust)?;
    let directory = read_directory(&config.directory)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        NodeError::Config(format!("cannot create {}: {e}", config.data_dir.display()))
    })?;
    let store = Store::open(&config.data_dir.join("store"))?;
    let sync = SyncConfig {
        resync_interval_ms: config.resync_interval_secs * 1000,
        // Public changes are announced over gossipsub; private ones go point-to-point.
        push_public: false,
        ..SyncConfig::default()
    };
    let now_secs = now_ms() / 1000;
    let mut core = Core::open(
        &config.site,
        node_key.clone(),
        trust,
        directory,
        store,
        sync,
        now_secs,
    )?;
    core.set_write_budget(crate::budget::WriteBudget {
        burst: config.write_budget_burst,
        per_minute: config.write_budget_per_minute,
    });
    core.ensure_all_company(now_ms() as i64)?;
    core.commit()?;
    core.set_cache_documents(config.cache_documents);

    let keypair = identity::Keypair::ed25519_from_bytes(*node_key.to_seed())
        .map_err(|e| NodeError::Config(format!("node key: {e}")))?;
    let peer_id = keypair.public().to_peer_id();
    let use_mdns = config.mdns;
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NodeError::Network(e.to_string()))?
        .with_quic()
        .with_behaviour(|key| {
            Behaviour::new(key, use_mdns)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
        .map_err(|e| NodeError::Network(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    for addr in &config.listen {
        let a: Multiaddr = addr
            .parse()
            .map_err(|e| NodeError::Config(format!("listen address {addr:?}: {e}")))?;
        swarm
            .listen_on(a)
            .map_err(|e| NodeError::Network(format!("cannot listen on {addr}: {e}")))?;
    }
    let mut targets = Vec::new();
    for p in &config.peers {
        let a: Multiaddr = p
            .parse()
            .map_err(|e| NodeError::Config(format!("peer address {p:?}: {e}")))?;
        targets.push(a);
    }

    let metrics = Arc::new(Metrics::default());
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>(1024);
    let (events, _) = tokio::sync::broadcast::channel(1024);
    let handle = NodeHandle {
        jobs: jobs_tx,
        reader: core.reader(),
        events: events.clone(),
        metrics: metrics.clone(),
        site: config.site.clone(),
        peer_id,
    };
    let listening = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut rt = Runtime {
        core,
        swarm,
        outgoing: Outgoing::default(),
        sites: BTreeMap::new(),
        metrics,
        targets,
        last_dial: None,
        listening: listening.clone(),
        connected: HashMap::new(),
        gossip_rejects: HashMap::new(),
        events,
        last_search_refresh: Instant::now(),
        directory_file: config.directory.clone(),
        directory_seen: file_stamp(&config.directory),
        last_directory_check: Instant::now(),
    };
    rt.refresh_allow_list();
    tracing::info!(site = %config.site, peer_id = %peer_id, "node started");
    let task = tokio::spawn(async move { rt.run(jobs_rx, shutdown).await });
    Ok(Running {
        handle,
        task,
        listening,
    })
}

struct Runtime {
    core: Core,
    swarm: Swarm<Behaviour>,
    outgoing: Outgoing,
    /// Peer id → site id, for every site the directory lists.
    sites: BTreeMap<PeerId, String>,
    metrics: Arc<Metrics>,
    /// Addresses to keep connections to.
    targets: Vec<Multiaddr>,
    last_dial: Option<Instant>,
    listening: Arc<std::sync::Mutex<Vec<Multiaddr>>>,
    connected: HashMap<PeerId, u32>,
    /// Gossip messages refused per sender; past [`MAX_GOSSIP_REJECTS`] the sender's gossip is
    /// ignored (its changes still arrive, and are still checked, through sync).
    gossip_rejects: HashMap<PeerId, u32>,
    /// Live events for the web layer.
    events: tokio::sync::broadcast::Sender<Live>,
    last_search_refresh: Instant,
    /// The directory file the node was started with, watched for new versions (an operator
    /// publishes one and copies it there; no restart needed).
    directory_file: std::path::PathBuf,
    directory_seen: Option<(SystemTime, u64)>,
    last_directory_check: Instant,
}

/// How often the directory file is looked at.
const DIRECTORY_CHECK: Duration = Duration::from_secs(2);

/// A file's modification time and size, to notice that it changed.
fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Invalid gossip messages tolerated from one peer before its gossip is ignored.
const MAX_GOSSIP_REJECTS: u32 = 10;

/// How often to try peers that are not connected.
const REDIAL: Duration = Duration::from_secs(3);

impl Runtime {
    async fn run(
        &mut self,
        mut jobs: mpsc::Receiver<Job>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), NodeError> {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                job = jobs.recv() => {
                    let Some(job) = job else { break };
                    // A job that leaves nothing waiting to be made durable (a query, while no
                    // command of this batch has written yet) is answered at once; the others
                    // after the commit that covers them.
                    let mut delivers = Vec::new();
                    let mut next = Some(job);
                    let mut ran = 0;
                    while let Some(j) = next.take() {
                        let d = j(&mut self.core);
                        if self.core.has_unsaved() {
                            delivers.push(d);
                        } else {
                            d();
                        }
                        ran += 1;
                        if ran < 512 {
                            next = jobs.try_recv().ok();
                        }
                    }
                    let local = self.core.commit()?;
                    Metrics::add(&self.metrics.changes_local, local as u64);
                    for d in delivers {
                        d();
                    }
                    self.send_frames();
                }
                ev = self.swarm.select_next_some() => {
                    self.on_swarm(ev);
                    self.core.commit()?;
                    self.send_frames();
                }
                _ = tick.tick() => {
                    let out = self.core.tick(now_ms());
                    self.on_outcome(out);
                    self.watch_directory();
                    self.redial();
                    self.core.commit()?;
                    self.send_frames();
                    if self.last_search_refresh.elapsed() >= Duration::from_secs(1) {
                        self.core.refresh_search();
                        self.last_search_refresh = Instant::now();
                    }
                    Metrics::set(&self.metrics.pending_changes, self.core.replica().pending_len() as u64);
                    let r = self.core.replica();
                    Metrics::set(&self.metrics.documents, r.doc_count() as u64);
                    Metrics::set(&self.metrics.documents_in_memory, r.loaded_count() as u64);
                    Metrics::set(&self.metrics.document_loads, r.loads());
                    Metrics::set(&self.metrics.pending_bytes, r.pending_bytes() as u64);
                    Metrics::set(&self.metrics.stored_unreadable, r.stored_unreadable());
                    Metrics::set(&self.metrics.vouched, r.vouched());
                    Metrics::set(&self.metrics.directory_version, r.directory().map_or(0, |d| d.version()));
                    Metrics::set(&self.metrics.writes_refused, self.core.writes_refused());
                }
            }
        }
        self.core.commit()?;
        // The search index's last commit records what it covers: a restart reindexes nothing.
        self.core.refresh_search();
        tracing::info!(site = %self.core.site(), "node stopped cleanly");
        Ok(())
    }

    fn refresh_allow_list(&mut self) {
        let Some(dir) = self.core.replica().directory() else {
            return;
        };
        let sites = site_peers(&dir.directory, self.core.site());
        let allow = &mut self.swarm.behaviour_mut().allow;
        for old in self.sites.keys() {
            if !sites.contains_key(old) {
                allow.disallow_peer(*old);
            }
        }
        for p in sites.keys() {
            allow.allow_peer(*p);
        }
        // Address hints from the directory.
        for s in dir.directory.sites.values() {
            if s.id == self.core.site() {
                continue;
            }
            for a in &s.addresses {
                if let Ok(addr) = a.parse::<Multiaddr>()
                    && !self.targets.contains(&addr)
                {
                    self.targets.push(addr);
                }
            }
        }
        self.sites = sites;
    }

    fn redial(&mut self) {
        if self.last_dial.is_some_and(|t| t.elapsed() < REDIAL) {
            return;
        }
        self.last_dial = Some(Instant::now());
        let own: Vec<Multiaddr> = self.swarm.listeners().cloned().collect();
        for addr in self.targets.clone() {
            if own.contains(&addr) {
                continue;
            }
            let peer = addr.iter().find_map(|p| match p {
                Protocol::P2p(id) => Some(id),
                _ => None,
            });
            if let Some(p) = peer
                && (self.swarm.is_connected(&p) || p == *self.swarm.local_peer_id())
            {
                continue;
            }
            if peer.is_none() && self.all_connected() {
                continue;
            }
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::debug!(address = %addr, error = %e, "dial failed");
            }
        }
    }

    fn all_connected(&self) -> bool {
        self.sites.keys().all(|p| self.connected.contains_key(p))
    }

    /// Publishes the public changes made since the last call; if no peer is subscribed yet,
    /// pushes them point-to-point instead.
    fn announce(&mut self) {
        let Some((frame, changes)) = self.core.take_announcement() else {
            return;
        };
        let topic = libp2p::gossipsub::IdentTopic::new(crate::net::PUBLIC_TOPIC);
        if frame.len() > crate::net::MAX_GOSSIP {
            self.core.push_directly(&changes);
            return;
        }
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic, frame.clone())
        {
            Ok(_) => {
                Metrics::add(&self.metrics.frames_out, 1);
                Metrics::add(&self.metrics.bytes_out, frame.len() as u64);
            }
            Err(e) => {
                tracing::debug!(error = %e, "gossip not published; pushing directly");
                self.core.push_directly(&changes);
            }
        }
    }

    fn on_gossip(&mut self, e: libp2p::gossipsub::Event) {
        use libp2p::gossipsub::{Event as G, MessageAcceptance};
        let G::Message {
            propagation_source,
            message_id,
            message,
        } = e
        else {
            return;
        };
        let site = message.source.and_then(|p| self.sites.get(&p).cloned());
        let verdict = match site {
            Some(site) => {
                Metrics::add(&self.metrics.gossip_in, 1);
                Metrics::add(&self.metrics.bytes_in, message.data.len() as u64);
                let (verdict, report) = self.core.gossip_message(&site, &message.data);
                Metrics::add(&self.metrics.changes_in, report.accepted.len() as u64);
                for (_, _, why) in &report.rejected {
                    self.metrics.reject(why.code());
                }
                if let Some((doc, _, why)) = report.rejected.first() {
                    tracing::warn!(peer = %site, count = report.rejected.len(), doc = ?doc, reason = %why, "gossiped changes rejected");
                }
                verdict
            }
            None => crate::core::GossipVerdict::Reject,
        };
        let acceptance = match verdict {
            crate::core::GossipVerdict::Accept => MessageAcceptance::Accept,
            crate::core::GossipVerdict::Ignore => MessageAcceptance::Ignore,
            crate::core::GossipVerdict::Reject => MessageAcceptance::Reject,
        };
        let gs = &mut self.swarm.behaviour_mut().gossipsub;
        gs.report_message_validation_result(&message_id, &propagation_source, acceptance);
        if verdict == crate::core::GossipVerdict::Reject {
            Metrics::add(&self.metrics.malformed_frames, 1);
            let offender = message.source.unwrap_or(propagation_source);
            let n = self.gossip_rejects.entry(offender).or_default();
            *n += 1;
            if *n == MAX_GOSSIP_REJECTS {
                tracing::warn!(peer = %offender, "too many invalid gossip messages: ignoring this peer's gossip");
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .blacklist_peer(&offender);
            }
        }
    }

    /// Installs the directory file's version if it changed and is newer than the one held.
    fn watch_directory(&mut self) {
        if self.last_directory_check.elapsed() < DIRECTORY_CHECK {
            return;
        }
        self.last_directory_check = Instant::now();
        let stamp = file_stamp(&self.directory_file);
        if stamp.is_none() || stamp == self.directory_seen {
            return;
        }
        self.directory_seen = stamp;
        let signed = match read_directory(&self.directory_file) {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "the directory file changed but cannot be read");
                return;
            }
        };
        let held = self.core.replica().directory().map_or(0, |d| d.version());
        if signed.open().map(|d| d.version).unwrap_or(0) <= held {
            return;
        }
        match self.core.install_directory(&signed) {
            Ok((version, out)) => {
                tracing::info!(version, file = %self.directory_file.display(), "new directory version from the directory file");
                self.on_outcome(out);
            }
            Err(e) => {
                tracing::warn!(error = %e, file = %self.directory_file.display(), "the directory file's new version was refused");
            }
        }
    }

    fn send_frames(&mut self) {
        if let Some(version) = self.core.take_directory_changed() {
            self.refresh_allow_list();
            let _ = self.events.send(Live::Directory { version });
        }
        // No subscriber is fine: nobody is watching.
        for doc in self.core.take_committed() {
            let _ = self.events.send(Live::Changed(doc));
        }
        for who in self.core.take_notified() {
            let _ = self.events.send(Live::Notified(who));
        }
        self.announce();
        while let Some((site, frame)) = self.core.poll_transmit() {
            let Some(peer) = self
                .sites
                .iter()
                .find(|(_, s)| **s == site)
                .map(|(p, _)| *p)
            else {
                continue;
            };
            Metrics::add(&self.metrics.frames_out, 1);
            Metrics::add(&self.metrics.bytes_out, frame.len() as u64);
            self.outgoing.push(peer, frame);
        }
        self.outgoing.pump(&mut self.swarm.behaviour_mut().sync);
        Metrics::set(&self.metrics.sync_backlog, self.outgoing.backlog() as u64);
    }

    fn on_outcome(&mut self, out: crate::core::Outcome) {
        let mut directory_changed = false;
        for e in &out.events {
            match e {
                Event::Ingested {
                    peer,
                    accepted,
                    rejected,
                    ..
                } => {
                    Metrics::add(&self.metrics.changes_in, accepted.len() as u64);
                    // One line per reason and bundle, not per change: a hostile peer must not
                    // be able to flood the log.
                    let mut by_reason: BTreeMap<&'static str, (usize, String)> = BTreeMap::new();
                    for (doc, why) in rejected {
                        self.metrics.reject(why.code());
                        let e = by_reason
                            .entry(why.code())
                            .or_insert_with(|| (0, format!("{why} (document {doc:?})")));
                        e.0 += 1;
                    }
                    for (code, (count, example)) in by_reason {
                        tracing::warn!(peer = %peer, reason = code, count, example = %example, "changes rejected");
                    }
                }
                Event::CertificateRefused { peer, error } => {
                    Metrics::add(&self.metrics.certificates_refused, 1);
                    tracing::warn!(peer = %peer, error = %error, "certificate refused");
                }
                Event::Throttled { peer, changes } => {
                    Metrics::add(&self.metrics.throttled_bundles, 1);
                    tracing::warn!(peer = %peer, changes, "peer over its ingest budget: bundle dropped (catch-up brings it again)");
                }
                Event::Expired { changes } => {
                    Metrics::add(&self.metrics.expired_changes, *changes as u64);
                    tracing::info!(changes, "waiting changes expired");
                }
                Event::RefusedByPeer { peer, doc } => {
                    tracing::info!(peer = %peer, doc = %doc, "peer no longer shares this document with us");
                }
                Event::Malformed { peer, error } => {
                    Metrics::add(&self.metrics.malformed_frames, 1);
                    tracing::warn!(peer = %peer, error = %error, "malformed frame dropped");
                }
                Event::Refused { peer, doc } => {
                    tracing::warn!(peer = %peer, doc = %doc, "refused a document the peer may not hold");
                }
                Event::DirectoryUpdated { version } => {
                    tracing::info!(version, "directory updated");
                    directory_changed = true;
                }
                Event::DirectoryRejected { peer, error } => {
                    tracing::warn!(peer = %peer, error = %error, "directory from peer refused");
                }
                _ => {}
            }
        }
        if directory_changed {
            self.refresh_allow_list();
            if let Some(version) = self.core.take_directory_changed() {
                let _ = self.events.send(Live::Directory { version });
            }
        }
    }

    fn on_swarm(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => self.on_sync(e),
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(e)) => self.on_gossip(e),
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, addr) in found {
                    if self.sites.contains_key(&peer) && !self.swarm.is_connected(&peer) {
                        let _ = self.swarm.dial(addr);
                    }
                }
            }
            SwarmEvent::Behaviour(_) => {}
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(address = %address, "listening");
                if let Ok(mut l) = self.listening.lock() {
                    l.push(address);
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                endpoint,
                ..
            } => {
                *self.connected.entry(peer_id).or_default() = num_established.get();
                if num_established.get() == 1
                    && let Some(site) = self.sites.get(&peer_id).cloned()
                {
                    tracing::info!(peer = %peer_id, site = %site, address = %endpoint.get_remote_address(), "peer connected");
                    Metrics::set(&self.metrics.peers_connected, self.connected.len() as u64);
                    self.core.connect(&site, now_ms());
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                self.connected.remove(&peer_id);
                Metrics::set(&self.metrics.peers_connected, self.connected.len() as u64);
                self.outgoing.forget(&peer_id);
                if let Some(site) = self.sites.get(&peer_id).cloned() {
                    tracing::info!(peer = %peer_id, site = %site, cause = ?cause, "peer disconnected");
                    self.core.disconnect(&site);
                }
            }
            SwarmEvent::IncomingConnectionError {
                peer_id,
                error,
                send_back_addr,
                ..
            } => {
                if matches!(error, libp2p::swarm::ListenError::Denied { .. }) {
                    Metrics::add(&self.metrics.refused_peers, 1);
                    tracing::warn!(peer = ?peer_id, address = %send_back_addr, "connection refused: not a site in the directory");
                } else {
                    tracing::debug!(peer = ?peer_id, error = %error, "incoming connection failed");
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                if matches!(error, libp2p::swarm::DialError::Denied { .. }) {
                    Metrics::add(&self.metrics.refused_peers, 1);
                    tracing::warn!(peer = ?peer_id, "dialled a peer that is not a site in the directory; disconnected");
                } else {
                    tracing::debug!(peer = ?peer_id, error = %error, "dial failed");
                }
            }
            _ => {}
        }
    }

    fn on_sync(&mut self, e: request_response::Event<Vec<u8>, Vec<u8>>) {
        match e {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .sync
                        .send_response(channel, Vec::new());
                    let Some(site) = self.sites.get(&peer).cloned() else {
                        return;
                    };
                    Metrics::add(&self.metrics.frames_in, 1);
                    Metrics::add(&self.metrics.bytes_in, request.len() as u64);
                    let out = self.core.frame(&site, &request, now_ms());
                    self.on_outcome(out);
                }
                request_response::Message::Response { .. } => {
                    self.outgoing.done(&peer);
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(peer = %peer, error = %error, "frame not delivered");
                self.outgoing.done(&peer);
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                Metrics::add(&self.metrics.malformed_frames, 1);
                tracing::warn!(peer = %peer, error = %error, "incoming frame failed");
            }
            _ => {}
        }
    }
}
