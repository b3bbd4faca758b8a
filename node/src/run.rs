//! The runtime: the [`Core`] on a thread of its own, the libp2p swarm on the async executor.
//!
//! As rust-analyzer's main loop, the core's thread waits on one queue of [`Input`]s — jobs
//! from the web layer (closures run on the core, each named for the metrics), what the network
//! task forwards ([`crate::network`]: connections, frames, gossip), a stop — and on the next
//! moment something is due (a catch-up round, the directory file, the search index): it
//! sleeps until then, not on a fixed tick. Whatever queued up meanwhile is taken in the same
//! batch, then the batch is committed — appended and flushed — and only then are the jobs
//! that wrote answered, so a command is acknowledged only once it is durable and jobs that
//! queued up share one flush (group commit). A job that wrote nothing is answered at once.
//!
//! The flush, the search index's commits, the replays of documents read back from the store
//! all happen on the core's thread: the swarm, on the executor, never waits for a disk. Reads
//! do not come here at all ([`crate::Reader`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use libp2p::{Multiaddr, PeerId, identity, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};
use weft_crdt::DocId;
use weft_crdt::sync::{Config as SyncConfig, Event};
use weft_keys::{Signed, TrustAnchors};

use crate::clock::{Clock, SharedClock, SharedRng, SystemClock, SystemRng};
use crate::config::Config;
use crate::core::Core;
use crate::error::NodeError;
use crate::files;
use crate::metrics::Metrics;
use crate::net::Behaviour;
use crate::network::{NetIn, NetOut, Network};
use crate::store::Store;

type Deliver = Box<dyn FnOnce() + Send>;
type Job = Box<dyn FnOnce(&mut Core) -> Deliver + Send>;

/// What the core's thread waits for, besides the network task's [`NetIn`]s.
enum Input {
    /// A job from the web layer, with its name (for the metrics).
    Job(&'static str, Job),
    /// Stop: commit what is left and end.
    Stop,
}

/// One thing for the core's thread to do.
enum Work {
    Input(Input),
    Net(NetIn),
}

/// How the web layer talks to a running node. Cheap to clone.
#[derive(Clone)]
pub struct NodeHandle {
    inputs: mpsc::Sender<Input>,
    reader: crate::Reader,
    /// The files' bytes (`<data_dir>/blobs`) and the largest upload allowed.
    blobs: crate::blobs::BlobStore,
    max_file_bytes: u64,
    /// Fetches of files this site lacks from the sites that have them.
    transfers: crate::transfer::Transfers,
    /// How this site follows outside feeds.
    feeds: FeedSettings,
    /// How this site sends mail, if it does.
    mail: Option<crate::mail::MailSettings>,
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
        self.job("call", f).await
    }

    /// [`NodeHandle::call`], with a name under which its duration is counted
    /// (`weft_job_seconds{job=…}`).
    pub async fn job<T: Send + 'static>(
        &self,
        name: &'static str,
        f: impl FnOnce(&mut Core) -> T + Send + 'static,
    ) -> Result<T, NodeError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |core| {
            let value = f(core);
            Box::new(move || {
                let _ = tx.send(value);
            })
        });
        self.inputs
            .send(Input::Job(name, job))
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
    /// The node's blob store and its upload limit (bytes).
    pub fn blobs(&self) -> (&crate::blobs::BlobStore, u64) {
        (&self.blobs, self.max_file_bytes)
    }

    /// Fetches files from other sites.
    pub fn transfers(&self) -> &crate::transfer::Transfers {
        &self.transfers
    }

    /// How this site follows outside feeds.
    pub fn feeds(&self) -> &FeedSettings {
        &self.feeds
    }

    /// How this site sends mail, if it does.
    pub fn mail(&self) -> Option<&crate::mail::MailSettings> {
        self.mail.as_ref()
    }

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

/// How a site follows outside feeds (from its configuration).
#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// The account that posts the items (`feed_bot`).
    pub bot: Option<String>,
    /// How often each feed is fetched.
    pub every: Duration,
    pub limits: crate::outside::Limits,
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

/// Milliseconds since the Unix epoch, by the system's clock (for the binary and tests; a
/// node reads the clock it was started with).
pub fn now_ms() -> u64 {
    SystemClock.now_ms().max(0) as u64
}

/// A running node: its handle, and the task that ends when it stops.
pub struct Running {
    pub handle: NodeHandle,
    pub task: tokio::task::JoinHandle<Result<(), NodeError>>,
    /// The libp2p addresses it listens on, once known (filled as listeners come up).
    pub listening: Arc<std::sync::Mutex<Vec<Multiaddr>>>,
    /// The clock and the random source it was started with.
    pub clock: SharedClock,
    pub rng: SharedRng,
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

/// How many inputs the core's thread may have waiting before senders wait.
const INPUTS: usize = 4096;

/// Frames on their way to one peer (sent, not yet acknowledged) while it is sent whole
/// documents; the network sends them one at a time, so this is what waits in its queue.
const SYNC_WINDOW_FRAMES: u32 = 4;
/// The most inputs taken into one batch (one commit).
const BATCH: usize = 512;
/// No more inputs are taken into a batch once it has run this long: a catch-up's frames
/// (thousands of changes each, judged one by one) are committed, and the documents they
/// brought put away, as they come, instead of after hundreds of frames — a site joining
/// the company once held the whole inflow in memory, committing nothing for minutes.
const BATCH_TIME: Duration = Duration::from_millis(250);

/// Starts a node from its configuration, with the system's clock and random source. Returns
/// once the store is open and the listeners are requested; the node runs until `shutdown`
/// resolves.
pub async fn start(
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, NodeError> {
    start_with(config, Arc::new(SystemClock), Arc::new(SystemRng), shutdown).await
}

/// [`start`], with the clock and the random source the node reads: a test gives a
/// [`crate::clock::ManualClock`] to drive time.
pub async fn start_with(
    config: &Config,
    clock: SharedClock,
    rng: SharedRng,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, NodeError> {
    let node_key =
        files::read_secret_key(&config.node_key).map_err(|e| NodeError::Config(e.to_string()))?;
    let trust = read_trust(&config.trust)?;
    let directory = read_directory(&config.directory)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        NodeError::Config(format!("cannot create {}: {e}", config.data_dir.display()))
    })?;
    let store = Store::open_with_cache(&config.data_dir.join("store"), config.store_cache_mb)?;
    let sync = SyncConfig {
        resync_interval_ms: config.resync_interval_secs * 1000,
        // Public changes are announced over gossipsub, or sent to every connected site by
        // the engine (`public_changes`); private ones always go point-to-point.
        push_public: config.public_changes == crate::config::PublicChanges::Direct,
        // A joining site is sent whole documents a few frames at a time, as the network
        // reports the last ones delivered (`NetIn::Delivered`).
        window_frames: Some(SYNC_WINDOW_FRAMES),
        ..SyncConfig::default()
    };
    let now_secs = clock.now_ms().max(0) as u64 / 1000;
    let mut core = Core::open(
        &config.site,
        node_key.clone(),
        trust,
        directory,
        store,
        sync,
        now_secs,
    )?;
    core.set_clock(clock.clone());
    core.set_write_budget(crate::budget::WriteBudget {
        burst: config.write_budget_burst,
        per_minute: config.write_budget_per_minute,
    });
    core.ensure_all_company(clock.now_ms())?;
    core.commit()?;
    core.set_cache_documents(config.cache_documents);
    let mail = crate::mail::MailSettings::of(config)?;
    core.set_mail_after(mail.as_ref().map(|m| m.delay_ms));
    // Mails a previous run was handing to the SMTP server when it stopped may have left:
    // they are not sent again (never twice).
    let unsure = core.store().drop_unsent_mail()?;
    if unsure > 0 {
        tracing::warn!(
            mails = unsure,
            "mails being sent when the node stopped were not sent again (they may have left)"
        );
    }

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
    let (inputs, inputs_rx) = mpsc::channel::<Input>(INPUTS);
    let (from_net, from_net_rx) = mpsc::channel::<NetIn>(INPUTS);
    let (net_tx, net_rx) = mpsc::unbounded_channel::<NetOut>();
    let (events, _) = tokio::sync::broadcast::channel(1024);
    let blobs = crate::blobs::BlobStore::open(&config.data_dir.join("blobs"))
        .map_err(|e| NodeError::Config(format!("the blob store cannot be opened: {e}")))?
        .with_quota(config.max_files_gb.saturating_mul(1024 * 1024 * 1024));
    let (blob_tx, blob_rx) = mpsc::unbounded_channel();
    let transfers = crate::transfer::Transfers::new(
        blob_tx,
        blobs.clone(),
        core.reader(),
        metrics.clone(),
        &config.site,
    );
    let server = crate::transfer::Server {
        reader: core.reader(),
        blobs: blobs.clone(),
        metrics: metrics.clone(),
    };
    let handle = NodeHandle {
        inputs: inputs.clone(),
        reader: core.reader(),
        blobs,
        transfers,
        feeds: FeedSettings {
            bot: config.feed_bot.clone(),
            every: Duration::from_secs(config.feeds_poll_minutes.max(1) * 60),
            limits: crate::outside::Limits {
                timeout: Duration::from_secs(20),
                max_bytes: config.feeds_max_kb.saturating_mul(1024) as usize,
                allow_private: config.feeds_allow_private,
            },
        },
        max_file_bytes: config.max_file_mb.saturating_mul(1024 * 1024),
        mail: mail.clone(),
        events: events.clone(),
        metrics: metrics.clone(),
        site: config.site.clone(),
        peer_id,
    };
    let listening = Arc::new(std::sync::Mutex::new(Vec::new()));
    let network = Network::new(
        swarm,
        &config.site,
        targets,
        metrics.clone(),
        listening.clone(),
        from_net,
        server,
    );
    if let Some(d) = core.replica().directory() {
        let _ = net_tx.send(NetOut::Directory(Arc::new(d.directory.clone())));
    }
    let core_loop = CoreLoop {
        core,
        net: net_tx,
        metrics,
        events,
        last_search_refresh: Instant::now(),
        last_gauges: Instant::now(),
        directory_file: config.directory.clone(),
        directory_seen: file_stamp(&config.directory),
        last_directory_check: Instant::now(),
        clock: clock.clone(),
    };
    tracing::info!(site = %config.site, peer_id = %peer_id, "node started");
    let net_task = tokio::spawn(network.run(net_rx, blob_rx));
    {
        // Files nothing references any more are collected every hour (a week after they
        // were last written: see `service::files::UNREFERENCED_GRACE`).
        let node = handle.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                match crate::service::collect_blobs(&node, crate::service::UNREFERENCED_GRACE).await
                {
                    Ok(_) => {}
                    Err(NodeError::ShuttingDown) => return,
                    Err(e) => tracing::warn!(error = %e, "unreferenced files were not collected"),
                }
            }
        });
    }
    {
        // This site's usage figures, signed every hour (see `service::analytics`).
        let service = crate::service::Service::new(handle.clone(), clock.clone(), rng.clone());
        tokio::spawn(async move { service.publish_stats_forever().await });
    }
    if mail.is_some() {
        // Mail is handed to the SMTP server off the core's loop.
        let service = crate::service::Service::new(handle.clone(), clock.clone(), rng.clone());
        tokio::spawn(async move { service.send_mail_forever().await });
    }
    if config.feed_bot.is_some() {
        // Followed feeds are fetched off the core's loop; their items are posted through it.
        let service = crate::service::Service::new(handle.clone(), clock.clone(), rng.clone());
        tokio::spawn(async move { service.follow_feeds_forever().await });
    }
    tokio::spawn(async move {
        shutdown.await;
        let _ = inputs.send(Input::Stop).await;
    });
    // The core's own thread (a blocking task: a thread of its own for as long as it runs).
    let core_task = tokio::task::spawn_blocking(move || core_loop.run(inputs_rx, from_net_rx));
    let task = tokio::spawn(async move {
        let result = core_task
            .await
            .map_err(|e| NodeError::Network(format!("the core's thread failed: {e}")))?;
        // The core dropped its side of the network's queue: the network task ends.
        let _ = net_task.await;
        result
    });
    Ok(Running {
        handle,
        task,
        listening,
        clock,
        rng,
    })
}

/// The core's thread: the [`Core`] and everything that may block.
struct CoreLoop {
    core: Core,
    net: mpsc::UnboundedSender<NetOut>,
    metrics: Arc<Metrics>,
    /// Live events for the web layer.
    events: tokio::sync::broadcast::Sender<Live>,
    last_search_refresh: Instant,
    /// When the gauges of `/metrics` were last set: at the timer, and at least once a second
    /// while inputs keep the thread busy (a catch-up never lets the timer fire).
    last_gauges: Instant,
    /// The directory file the node was started with, watched for new versions (an operator
    /// publishes one and copies it there; no restart needed).
    directory_file: std::path::PathBuf,
    directory_seen: Option<(SystemTime, u64)>,
    last_directory_check: Instant,
    /// The node's clock: what the sync engine's timers and the sync lag are measured by.
    clock: SharedClock,
}

/// How often the directory file is looked at.
const DIRECTORY_CHECK: Duration = Duration::from_secs(2);
/// How often the search index's new documents are made searchable, and the gauges updated.
const SEARCH_REFRESH: Duration = Duration::from_secs(1);

/// A file's modification time and size, to notice that it changed.
fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl CoreLoop {
    fn run(
        mut self,
        mut inputs: mpsc::Receiver<Input>,
        mut net: mpsc::Receiver<NetIn>,
    ) -> Result<(), NodeError> {
        let timer = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| NodeError::Network(format!("the core's timer: {e}")))?;
        loop {
            let deadline = self.next_deadline();
            let first = timer.block_on(async {
                tokio::select! {
                    input = inputs.recv() => Some(input.map(Work::Input)),
                    n = net.recv() => Some(n.map(Work::Net)),
                    () = tokio::time::sleep_until(deadline.into()) => None,
                }
            });
            let Some(first) = first else {
                self.on_timer()?;
                continue;
            };
            // Both queues closed: nobody can ask anything any more.
            let first = first.unwrap_or(Work::Input(Input::Stop));
            if !self.batch(first, &mut inputs, &mut net)? {
                break;
            }
        }
        // What is cheaper to read back than to rebuild goes to disk with the last changes:
        // group records, and the search index's commit recording what it covers (a restart
        // then replays and reindexes nothing).
        self.core.checkpoint()?;
        tracing::info!(site = %self.core.site(), "node stopped cleanly");
        Ok(())
    }

    /// The next moment something is due: a catch-up round, the directory file, the search
    /// index (nothing else wakes the thread: inputs do).
    fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        let mut next = (self.last_search_refresh + SEARCH_REFRESH)
            .min(self.last_directory_check + DIRECTORY_CHECK);
        if let Some(at) = self.core.engine().next_timeout_ms() {
            let wait = at.saturating_sub(self.now_ms());
            next = next.min(now + Duration::from_millis(wait));
        }
        next.max(now)
    }

    /// Takes `first` and whatever else is waiting (up to [`BATCH`]), commits once, answers
    /// the jobs that wrote, sends what the commit produced. False when told to stop.
    fn batch(
        &mut self,
        first: Work,
        inputs: &mut mpsc::Receiver<Input>,
        net: &mut mpsc::Receiver<NetIn>,
    ) -> Result<bool, NodeError> {
        let mut delivers = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        let batch_started = Instant::now();
        let mut stop = false;
        while let Some(work) = next.take() {
            match work {
                Work::Input(Input::Stop) => {
                    stop = true;
                    break;
                }
                Work::Input(Input::Job(name, job)) => {
                    let started = Instant::now();
                    let deliver = job(&mut self.core);
                    self.metrics.job_done(name, started.elapsed());
                    // A job that leaves nothing waiting to be made durable is answered at
                    // once; the others after the commit that covers them.
                    if self.core.has_unsaved() {
                        delivers.push(deliver);
                    } else {
                        deliver();
                    }
                }
                Work::Net(n) => self.on_net(n),
            }
            taken += 1;
            if taken < BATCH && batch_started.elapsed() < BATCH_TIME {
                // Alternate between the queues so that neither starves the other.
                next = if taken % 2 == 0 {
                    inputs
                        .try_recv()
                        .ok()
                        .map(Work::Input)
                        .or_else(|| net.try_recv().ok().map(Work::Net))
                } else {
                    net.try_recv()
                        .ok()
                        .map(Work::Net)
                        .or_else(|| inputs.try_recv().ok().map(Work::Input))
                };
            }
        }
        if self.last_gauges.elapsed() >= Duration::from_secs(1) {
            self.gauges();
        }
        let started = Instant::now();
        let committed = self.core.commit()?;
        if committed > 0 {
            self.metrics.job_done("commit", started.elapsed());
            self.metrics.commit(committed);
        }
        for d in delivers {
            d();
        }
        self.send();
        // Also while inputs keep the thread busy (a catch-up never lets the timer fire):
        // what was indexed becomes searchable, and leaves memory. A joining node held every
        // post it received in the index's pending entries until the end (gigabytes).
        if self.last_search_refresh.elapsed() >= SEARCH_REFRESH {
            self.core.refresh_search();
            self.last_search_refresh = Instant::now();
        }
        Ok(!stop)
    }

    /// The node's clock, as the sync engine counts (ms since the epoch).
    fn now_ms(&self) -> u64 {
        self.clock.now_ms().max(0) as u64
    }

    fn on_net(&mut self, n: NetIn) {
        match n {
            NetIn::Connected(site) => {
                let now = self.now_ms();
                self.core.connect(&site, now);
            }
            NetIn::Disconnected(site) => self.core.disconnect(&site),
            NetIn::Frame(site, frame, permit) => {
                let now = self.now_ms();
                let out = self.core.frame(&site, &frame, now);
                // The frame's bytes are free again: the network may take the next.
                drop(permit);
                self.on_outcome(out);
            }
            NetIn::Delivered(site, rtt_ms) => self.core.delivered(&site, rtt_ms),
            NetIn::Gossip {
                site,
                id,
                via,
                source,
                data,
            } => {
                let (verdict, report) = self.core.gossip_message(&site, &data);
                Metrics::add(&self.metrics.changes_in, report.accepted.len() as u64);
                observe_lag(&self.metrics, &self.core, &site, &report.accepted);
                for (_, _, why) in &report.rejected {
                    self.metrics.reject(why.code());
                }
                if let Some((doc, _, why)) = report.rejected.first() {
                    tracing::warn!(peer = %site, count = report.rejected.len(), doc = ?doc, reason = %why, "gossiped changes rejected");
                }
                let _ = self.net.send(NetOut::GossipVerdict {
                    id,
                    via,
                    source,
                    verdict,
                });
            }
            NetIn::PublishFailed(changes) => self.core.push_directly(&changes),
        }
    }

    fn on_timer(&mut self) -> Result<(), NodeError> {
        let started = Instant::now();
        let now = self.now_ms();
        let out = self.core.tick(now);
        self.on_outcome(out);
        self.watch_directory();
        self.core.commit()?;
        self.send();
        if self.last_search_refresh.elapsed() >= SEARCH_REFRESH {
            self.core.refresh_search();
            self.last_search_refresh = Instant::now();
            self.gauges();
        }
        self.metrics.job_done("timer", started.elapsed());
        Ok(())
    }

    fn gauges(&mut self) {
        self.last_gauges = Instant::now();
        let m = &self.metrics;
        let r = self.core.replica();
        Metrics::set(&m.pending_changes, r.pending_len() as u64);
        Metrics::set(&m.documents, r.doc_count() as u64);
        Metrics::set(&m.documents_in_memory, r.loaded_count() as u64);
        Metrics::set(&m.document_loads, r.loads());
        Metrics::set(&m.pending_bytes, r.pending_bytes() as u64);
        Metrics::set(&m.stored_unreadable, r.stored_unreadable());
        Metrics::set(&m.vouched, r.vouched());
        Metrics::set(
            &m.directory_version,
            r.directory().map_or(0, |d| d.version()),
        );
        Metrics::set(&m.writes_refused, self.core.writes_refused());
        let (repaired, announced) = self.core.engine().repair_counts();
        Metrics::set(&m.repaired_changes, repaired);
        Metrics::set(&m.announced_changes, announced);
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

    /// Sends what the core has for others: live events, the directory to the network, public
    /// changes to announce, frames to peers.
    fn send(&mut self) {
        if let Some(version) = self.core.take_directory_changed() {
            if let Some(d) = self.core.replica().directory() {
                let _ = self
                    .net
                    .send(NetOut::Directory(Arc::new(d.directory.clone())));
            }
            let _ = self.events.send(Live::Directory { version });
        }
        // No subscriber is fine: nobody is watching.
        for doc in self.core.take_committed() {
            let _ = self.events.send(Live::Changed(doc));
        }
        for who in self.core.take_notified() {
            let _ = self.events.send(Live::Notified(who));
        }
        if let Some((frame, changes)) = self.core.take_announcement() {
            let _ = self.net.send(NetOut::Publish { frame, changes });
        }
        while let Some((site, frame)) = self.core.poll_transmit() {
            let _ = self.net.send(NetOut::Send(site, frame));
        }
    }

    fn on_outcome(&mut self, out: crate::core::Outcome) {
        for e in &out.events {
            match e {
                Event::Ingested {
                    peer,
                    accepted,
                    rejected,
                    ..
                } => {
                    Metrics::add(&self.metrics.changes_in, accepted.len() as u64);
                    observe_lag(&self.metrics, &self.core, peer, accepted);
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
                }
                Event::DirectoryRejected { peer, error } => {
                    tracing::warn!(peer = %peer, error = %error, "directory from peer refused");
                }
                Event::Reconciled { .. } => Metrics::add(&self.metrics.sync_rounds, 1),
            }
        }
    }
}

/// How late each change accepted from `peer` arrived: from its author's signed time to now.
fn observe_lag(
    metrics: &Metrics,
    core: &Core,
    peer: &str,
    accepted: &[(DocId, automerge::ChangeHash)],
) {
    let now = core.now_ms();
    let times = accepted
        .iter()
        .filter_map(|(doc, hash)| core.replica().doc(doc)?.change(hash))
        .map(|c| now - c.time_ms());
    metrics.sync_lag(peer, times);
}
