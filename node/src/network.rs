//! The network task: owns the libp2p swarm on the async executor and nothing else.
//!
//! It admits only the sites the directory lists, acknowledges and forwards every sync frame
//! and gossip message to the core's thread ([`crate::run`]) as a [`NetIn`], and carries out
//! what the core asks ([`NetOut`]): frames to send (one at a time per peer, in order),
//! gossip to publish, validation verdicts to report, a new directory's allow list. It never
//! touches the store or the documents, so a flush or a long ingest on the core's thread never
//! stalls the swarm (keep-alives, identify, gossip heartbeats, accepting connections).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, MessageAcceptance, MessageId};
use libp2p::multiaddr::Protocol;
use libp2p::request_response;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, mdns};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use weft_crdt::SignedChange;
use weft_keys::Directory;

use crate::core::GossipVerdict;
use crate::metrics::Metrics;
use crate::net::{Behaviour, BehaviourEvent, BlobRequest, BlobResponse, Outgoing, site_peers};
use crate::transfer::{MAX_SERVING_PER_PEER, Server};

/// A blob request's answer, or why there is none.
pub(crate) type BlobReply = oneshot::Sender<Result<BlobResponse, String>>;

/// A request served on a blocking thread, back to be answered.
type Served = (
    PeerId,
    request_response::ResponseChannel<BlobResponse>,
    BlobResponse,
);

/// What the network tells the core.
pub(crate) enum NetIn {
    /// A site's node is connected (its first connection).
    Connected(String),
    /// A site's node is gone (its last connection closed).
    Disconnected(String),
    /// A sync frame from a site (already acknowledged). The permit holds the frame's bytes
    /// against [`INFLOW_BYTES`] until the core has handled it.
    Frame(String, Vec<u8>, OwnedSemaphorePermit),
    /// A frame sent to a site was acknowledged (with the time since it was sent, in ms) or
    /// given up on: the engine's window opens, and it learns how near the site is.
    Delivered(String, Option<u64>),
    /// A gossip message from a site, to be judged; its verdict goes back as
    /// [`NetOut::GossipVerdict`].
    Gossip {
        site: String,
        id: MessageId,
        /// The peer that passed it on to us.
        via: PeerId,
        /// The peer that published it (counted against if it is invalid).
        source: PeerId,
        data: Vec<u8>,
    },
    /// Public changes could not be announced (too large, or no peer subscribed yet): push
    /// them point-to-point.
    PublishFailed(Vec<SignedChange>),
}

/// What the core asks of the network.
pub(crate) enum NetOut {
    /// Send a frame to a site's node.
    Send(String, Vec<u8>),
    /// Announce public changes over gossip.
    Publish {
        frame: Vec<u8>,
        changes: Vec<SignedChange>,
    },
    /// The verdict on a gossip message.
    GossipVerdict {
        id: MessageId,
        via: PeerId,
        source: PeerId,
        verdict: GossipVerdict,
    },
    /// The directory changed: admit its sites, dial their addresses.
    Directory(Arc<Directory>),
}

/// A request for part of a blob to a site's node (from `crate::transfer`, on a queue of its
/// own: the web layer's handles hold its sender, and the network task must still end when
/// the core does). The answer, or why there is none (not connected, timed out), goes to
/// `reply`.
pub(crate) struct BlobGet {
    pub(crate) site: String,
    pub(crate) req: BlobRequest,
    pub(crate) reply: BlobReply,
}

/// Invalid gossip messages tolerated from one peer before its gossip is ignored.
const MAX_GOSSIP_REJECTS: u32 = 10;

/// Bytes of sync frames received and not yet handled by the core. A frame beyond it is
/// acknowledged only once the core has caught up, and since a peer sends the next frame to
/// this node only after the last one's acknowledgement, a fast peer (one sending a joining
/// site the company's history) waits instead of filling this node's memory.
pub(crate) const INFLOW_BYTES: usize = 32 * 1024 * 1024;

/// Frames of one peer held at once while the core catches up (see the use).
const MAX_HELD_PER_PEER: usize = 4;

/// How often to try peers that are not connected.
const REDIAL: Duration = Duration::from_secs(3);

/// The network task's state.
pub(crate) struct Network {
    pub(crate) swarm: Swarm<Behaviour>,
    pub(crate) site: String,
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
    to_core: mpsc::Sender<NetIn>,
    /// Holds received frames' bytes until the core has handled them.
    inflow: Arc<Semaphore>,
    /// Frames received beyond [`INFLOW_BYTES`], not acknowledged yet, in order.
    held: std::collections::VecDeque<HeldFrame>,
    /// Answers peers' blob requests; how many each peer has being served; the answers back
    /// from the blocking threads that read them.
    server: Server,
    serving: HashMap<PeerId, usize>,
    served_tx: mpsc::UnboundedSender<Served>,
    served_rx: Option<mpsc::UnboundedReceiver<Served>>,
    /// Blob requests sent, waiting for their answers.
    asked: HashMap<request_response::OutboundRequestId, BlobReply>,
}

/// A frame waiting for room in the core's inflow.
struct HeldFrame {
    site: String,
    frame: Vec<u8>,
    channel: request_response::ResponseChannel<Vec<u8>>,
}

impl Network {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        site: &str,
        targets: Vec<Multiaddr>,
        metrics: Arc<Metrics>,
        listening: Arc<std::sync::Mutex<Vec<Multiaddr>>>,
        to_core: mpsc::Sender<NetIn>,
        server: Server,
    ) -> Network {
        let (served_tx, served_rx) = mpsc::unbounded_channel();
        Network {
            server,
            serving: HashMap::new(),
            served_tx,
            served_rx: Some(served_rx),
            asked: HashMap::new(),
            swarm,
            site: site.to_owned(),
            outgoing: Outgoing::default(),
            sites: BTreeMap::new(),
            metrics,
            targets,
            last_dial: None,
            listening,
            connected: HashMap::new(),
            gossip_rejects: HashMap::new(),
            to_core,
            inflow: Arc::new(Semaphore::new(INFLOW_BYTES)),
            held: std::collections::VecDeque::new(),
        }
    }

    /// The permit for a frame of `len` bytes (one larger than the whole budget takes all of
    /// it).
    fn permit_size(len: usize) -> u32 {
        len.clamp(1, INFLOW_BYTES) as u32
    }

    /// Acknowledges a frame and passes it to the core.
    async fn forward(&mut self, h: HeldFrame, permit: OwnedSemaphorePermit) -> Result<(), ()> {
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(h.channel, Vec::new());
        self.tell(NetIn::Frame(h.site, h.frame, permit)).await
    }

    /// Runs until the core stops (its side of the channel closes).
    pub(crate) async fn run(
        mut self,
        mut from_core: mpsc::UnboundedReceiver<NetOut>,
        mut blob_gets: mpsc::UnboundedReceiver<BlobGet>,
    ) {
        let mut redial = tokio::time::interval(REDIAL);
        let Some(mut served) = self.served_rx.take() else {
            return;
        };
        loop {
            let room = {
                let need = self.held.front().map(|h| Self::permit_size(h.frame.len()));
                let inflow = self.inflow.clone();
                async move {
                    match need {
                        Some(n) => inflow.acquire_many_owned(n).await.ok(),
                        None => std::future::pending().await,
                    }
                }
            };
            tokio::select! {
                Some(permit) = room => {
                    if let Some(h) = self.held.pop_front()
                        && self.forward(h, permit).await.is_err()
                    {
                        break;
                    }
                }
                ev = self.swarm.select_next_some() => {
                    if self.on_swarm(ev).await.is_err() {
                        break;
                    }
                }
                cmd = from_core.recv() => {
                    let Some(cmd) = cmd else { break };
                    if self.on_command(cmd).await.is_err() {
                        break;
                    }
                    // What else the core asked meanwhile goes out in the same pump.
                    while let Ok(cmd) = from_core.try_recv() {
                        if self.on_command(cmd).await.is_err() {
                            return;
                        }
                    }
                    self.pump();
                }
                Some(get) = blob_gets.recv() => self.blob_get(get),
                Some((peer, channel, answer)) = served.recv() => {
                    if let Some(n) = self.serving.get_mut(&peer) {
                        *n = n.saturating_sub(1);
                    }
                    let _ = self.swarm.behaviour_mut().blob.send_response(channel, answer);
                }
                _ = redial.tick() => self.redial(),
            }
        }
    }

    /// Passes `m` to the core (waiting while its queue is full); `Err` once it has stopped.
    fn tell(&self, m: NetIn) -> impl Future<Output = Result<(), ()>> + Send + use<> {
        let to = self.to_core.clone();
        async move { to.send(m).await.map_err(|_| ()) }
    }

    async fn on_command(&mut self, cmd: NetOut) -> Result<(), ()> {
        match cmd {
            NetOut::Send(site, frame) => {
                let Some(peer) = self
                    .sites
                    .iter()
                    .find(|(_, s)| **s == site)
                    .map(|(p, _)| *p)
                else {
                    return Ok(());
                };
                Metrics::add(&self.metrics.frames_out, 1);
                Metrics::add(&self.metrics.bytes_out, frame.len() as u64);
                self.outgoing.push(peer, frame);
            }
            NetOut::Publish { frame, changes } => {
                let topic = gossipsub::IdentTopic::new(crate::net::PUBLIC_TOPIC);
                if frame.len() > crate::net::MAX_GOSSIP {
                    return self.tell(NetIn::PublishFailed(changes)).await;
                }
                let len = frame.len() as u64;
                match self.swarm.behaviour_mut().gossipsub.publish(topic, frame) {
                    Ok(_) => {
                        Metrics::add(&self.metrics.frames_out, 1);
                        Metrics::add(&self.metrics.bytes_out, len);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "gossip not published; pushing directly");
                        return self.tell(NetIn::PublishFailed(changes)).await;
                    }
                }
            }
            NetOut::GossipVerdict {
                id,
                via,
                source,
                verdict,
            } => self.report(&id, &via, source, verdict),
            NetOut::Directory(dir) => self.refresh_allow_list(&dir),
        }
        Ok(())
    }

    /// Sends a blob request, or answers at once that the site is not connected.
    fn blob_get(&mut self, BlobGet { site, req, reply }: BlobGet) {
        let peer = self
            .sites
            .iter()
            .find(|(_, s)| **s == site)
            .map(|(p, _)| *p)
            .filter(|p| self.connected.contains_key(p));
        match peer {
            Some(p) => {
                let id = self.swarm.behaviour_mut().blob.send_request(&p, req);
                self.asked.insert(id, reply);
            }
            None => {
                let _ = reply.send(Err("not connected".into()));
            }
        }
    }

    /// A blob request from a peer (served on a blocking thread, within
    /// [`MAX_SERVING_PER_PEER`]), or the answer to one of ours.
    fn on_blob(&mut self, e: request_response::Event<BlobRequest, BlobResponse>) {
        match e {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let Some(site) = self.sites.get(&peer).cloned() else {
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .blob
                            .send_response(channel, BlobResponse::Refused);
                        return;
                    };
                    let n = self.serving.entry(peer).or_default();
                    if *n >= MAX_SERVING_PER_PEER {
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .blob
                            .send_response(channel, BlobResponse::Busy);
                        return;
                    }
                    *n += 1;
                    let (server, back) = (self.server.clone(), self.served_tx.clone());
                    tokio::task::spawn_blocking(move || {
                        let answer = server.serve(&site, &request);
                        let _ = back.send((peer, channel, answer));
                    });
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(reply) = self.asked.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some(reply) = self.asked.remove(&request_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(peer = %peer, error = %error, "a blob request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// Reports a gossip verdict to gossipsub, and ignores a peer's gossip once it has sent
    /// too many invalid messages.
    fn report(&mut self, id: &MessageId, via: &PeerId, offender: PeerId, verdict: GossipVerdict) {
        let acceptance = match verdict {
            GossipVerdict::Accept => MessageAcceptance::Accept,
            GossipVerdict::Ignore => MessageAcceptance::Ignore,
            GossipVerdict::Reject => MessageAcceptance::Reject,
        };
        let gs = &mut self.swarm.behaviour_mut().gossipsub;
        gs.report_message_validation_result(id, via, acceptance);
        if verdict == GossipVerdict::Reject {
            Metrics::add(&self.metrics.malformed_frames, 1);
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

    fn pump(&mut self) {
        self.outgoing.pump(&mut self.swarm.behaviour_mut().sync);
        Metrics::set(&self.metrics.sync_backlog, self.outgoing.backlog() as u64);
    }

    fn refresh_allow_list(&mut self, dir: &Directory) {
        let sites = site_peers(dir, &self.site);
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
        for s in dir.sites.values() {
            if s.id == self.site {
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
        self.redial();
    }

    fn redial(&mut self) {
        if self.last_dial.is_some_and(|t| t.elapsed() < REDIAL / 2) {
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

    async fn on_swarm(&mut self, ev: SwarmEvent<BehaviourEvent>) -> Result<(), ()> {
        match ev {
            SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => return self.on_sync(e).await,
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(e)) => return self.on_gossip(e).await,
            SwarmEvent::Behaviour(BehaviourEvent::Blob(e)) => self.on_blob(e),
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
                    return self.tell(NetIn::Connected(site)).await;
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
                    return self.tell(NetIn::Disconnected(site)).await;
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
        Ok(())
    }

    async fn on_gossip(&mut self, e: gossipsub::Event) -> Result<(), ()> {
        let gossipsub::Event::Message {
            propagation_source,
            message_id,
            message,
        } = e
        else {
            return Ok(());
        };
        let source = message.source.unwrap_or(propagation_source);
        match message.source.and_then(|p| self.sites.get(&p).cloned()) {
            Some(site) => {
                Metrics::add(&self.metrics.gossip_in, 1);
                Metrics::add(&self.metrics.bytes_in, message.data.len() as u64);
                // Judged by the core; until its verdict comes back, gossipsub holds the
                // message (validation mode), so nothing unjudged is forwarded.
                self.tell(NetIn::Gossip {
                    site,
                    id: message_id,
                    via: propagation_source,
                    source,
                    data: message.data,
                })
                .await
            }
            None => {
                self.report(
                    &message_id,
                    &propagation_source,
                    source,
                    GossipVerdict::Reject,
                );
                Ok(())
            }
        }
    }

    async fn on_sync(&mut self, e: request_response::Event<Vec<u8>, Vec<u8>>) -> Result<(), ()> {
        match e {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let Some(site) = self.sites.get(&peer).cloned() else {
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .sync
                            .send_response(channel, Vec::new());
                        return Ok(());
                    };
                    Metrics::add(&self.metrics.frames_in, 1);
                    Metrics::add(&self.metrics.bytes_in, request.len() as u64);
                    let h = HeldFrame {
                        site,
                        frame: request,
                        channel,
                    };
                    // In order: nothing overtakes a frame already held.
                    if self.held.is_empty()
                        && let Ok(permit) = self
                            .inflow
                            .clone()
                            .try_acquire_many_owned(Self::permit_size(h.frame.len()))
                    {
                        return self.forward(h, permit).await;
                    }
                    // A peer waits for each frame's acknowledgement before the next, so an
                    // honest one has at most one held here; one that opens stream after
                    // stream is refused beyond a few (its frames fail, nothing is judged, and
                    // catch-up brings whatever it had to say), so it cannot fill memory.
                    if self.held.iter().filter(|x| x.site == h.site).count() >= MAX_HELD_PER_PEER {
                        Metrics::add(&self.metrics.malformed_frames, 1);
                        tracing::warn!(peer = %h.site, "frames beyond the inflow from one peer: refused");
                        return Ok(());
                    }
                    self.held.push_back(h);
                }
                request_response::Message::Response { .. } => {
                    let rtt = self.outgoing.done(&peer);
                    self.pump();
                    if let Some(site) = self.sites.get(&peer).cloned() {
                        let rtt_ms = rtt.map(|d| d.as_millis() as u64);
                        return self.tell(NetIn::Delivered(site, rtt_ms)).await;
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(peer = %peer, error = %error, "frame not delivered");
                self.outgoing.done(&peer);
                self.pump();
                if let Some(site) = self.sites.get(&peer).cloned() {
                    return self.tell(NetIn::Delivered(site, None)).await;
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                Metrics::add(&self.metrics.malformed_frames, 1);
                tracing::warn!(peer = %peer, error = %error, "incoming frame failed");
            }
            _ => {}
        }
        Ok(())
    }
}
