//! The libp2p side: a thin adapter that moves the sync engine's frames between sites.
//!
//! * Transports: TCP and QUIC, noise, yamux; identify; optional mDNS on a LAN.
//! * **Admission**: an allow list of the peer ids of the sites the directory lists. Any other
//!   peer is refused right after the noise handshake, before any protocol sees it; the refusal
//!   is logged.
//! * Frames travel as request-response exchanges on `/weft/sync/1`: the request is one engine
//!   frame, the response an empty acknowledgement. Frames to one peer are sent one at a time,
//!   in order, which keeps the engine's exchanges ordered and gives back-pressure.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;

use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{PeerId, StreamProtocol, allow_block_list, gossipsub, identify, identity, mdns};
use weft_keys::{Directory, PublicKey};

use weft_crdt::sync::message::MAX_FRAME;

/// The gossipsub topic on which public changes are announced. One topic for all public
/// documents: a topic per document would cost every node a subscription per group.
pub const PUBLIC_TOPIC: &str = "weft/public-changes/1";

/// The largest gossip message: a bundle of public changes (the frame limit of the sync
/// protocol would let one node flood the mesh).
pub const MAX_GOSSIP: usize = 256 * 1024;

/// The sync protocol's libp2p name.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/weft/sync/1");

/// The peer id of a node key.
pub fn peer_id_of(key: &PublicKey) -> Option<PeerId> {
    let ed = identity::ed25519::PublicKey::try_from_bytes(&key.to_bytes()).ok()?;
    Some(PeerId::from_public_key(&identity::PublicKey::from(ed)))
}

/// Which site each allowed peer is, from the directory (this node excluded; revoked keys
/// are no site's).
pub fn site_peers(dir: &Directory, own_site: &str) -> BTreeMap<PeerId, String> {
    dir.sites
        .values()
        .filter(|s| s.id != own_site)
        .filter_map(|s| Some((peer_id_of(&dir.current_node_key(&s.id)?)?, s.id.clone())))
        .collect()
}

/// A codec for raw frames: read to the end of the stream, refusing more than [`MAX_FRAME`].
#[derive(Debug, Clone, Default)]
pub struct FrameCodec;

async fn read_capped<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    io.take(max as u64 + 1).read_to_end(&mut buf).await?;
    if buf.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame exceeds the limit",
        ));
    }
    Ok(buf)
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_capped(io, MAX_FRAME).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_capped(io, 1024).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&req).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&res).await?;
        io.close().await
    }
}

/// The node's libp2p behaviour. The allow list comes first, so a refused peer never reaches
/// the others.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    pub allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    pub identify: identify::Behaviour,
    pub gossipsub: gossipsub::Behaviour,
    pub sync: request_response::Behaviour<FrameCodec>,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
}

impl Behaviour {
    /// Builds the behaviour for `key`.
    pub fn new(key: &identity::Keypair, use_mdns: bool) -> io::Result<Behaviour> {
        let mdns = if use_mdns {
            Some(mdns::tokio::Behaviour::new(
                mdns::Config::default(),
                key.public().to_peer_id(),
            )?)
        } else {
            None
        };
        let config = gossipsub::ConfigBuilder::default()
            .validation_mode(gossipsub::ValidationMode::Strict)
            .validate_messages()
            .max_transmit_size(MAX_GOSSIP + 4096)
            .message_id_fn(|m: &gossipsub::Message| {
                use sha2::Digest as _;
                gossipsub::MessageId::from(sha2::Sha256::digest(&m.data)[..16].to_vec())
            })
            .build()
            .map_err(|e| io::Error::other(e.to_string()))?;
        let mut gossip =
            gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), config)
                .map_err(io::Error::other)?;
        gossip
            .subscribe(&gossipsub::IdentTopic::new(PUBLIC_TOPIC))
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Behaviour {
            allow: allow_block_list::Behaviour::default(),
            gossipsub: gossip,
            identify: identify::Behaviour::new(
                identify::Config::new("/weft/1".into(), key.public())
                    .with_agent_version(format!("weft/{}", env!("CARGO_PKG_VERSION"))),
            ),
            sync: request_response::Behaviour::with_codec(
                FrameCodec,
                [(SYNC_PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(std::time::Duration::from_secs(30)),
            ),
            mdns: Toggle::from(mdns),
        })
    }
}

/// Per-peer outgoing frames, sent one at a time.
#[derive(Debug, Default)]
pub struct Outgoing {
    queues: HashMap<PeerId, VecDeque<Vec<u8>>>,
    /// The frame on its way to each peer, and when it was sent.
    in_flight: HashMap<PeerId, (request_response::OutboundRequestId, std::time::Instant)>,
}

impl Outgoing {
    pub fn push(&mut self, peer: PeerId, frame: Vec<u8>) {
        self.queues.entry(peer).or_default().push_back(frame);
    }

    /// Sends the next frame to every peer with none in flight.
    pub fn pump(&mut self, sync: &mut request_response::Behaviour<FrameCodec>) {
        for (peer, q) in &mut self.queues {
            if self.in_flight.contains_key(peer) {
                continue;
            }
            if let Some(frame) = q.pop_front() {
                let id = sync.send_request(peer, frame);
                self.in_flight
                    .insert(*peer, (id, std::time::Instant::now()));
            }
        }
    }

    /// The frame to `peer` was acknowledged (or failed): the next may go. Returns how long
    /// ago it was sent (a round trip, plus however long the peer took to take it).
    pub fn done(&mut self, peer: &PeerId) -> Option<std::time::Duration> {
        self.in_flight.remove(peer).map(|(_, at)| at.elapsed())
    }

    /// Drops what was queued for a peer that went away (the engine resyncs on reconnect).
    pub fn forget(&mut self, peer: &PeerId) {
        self.queues.remove(peer);
        self.in_flight.remove(peer);
    }

    /// Frames waiting, for the sync backlog metric.
    pub fn backlog(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum::<usize>() + self.in_flight.len()
    }
}
