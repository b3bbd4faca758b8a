//! The libp2p side: a thin adapter that moves the sync engine's frames between sites.
//!
//! * Transports: TCP and QUIC, noise, yamux; identify; optional mDNS on a LAN.
//! * **Admission**: an allow list of the peer ids of the sites the directory lists. Any other
//!   peer is refused right after the noise handshake, before any protocol sees it; the refusal
//!   is logged.
//! * Frames travel as request-response exchanges on `/weft/sync/1`: the request is one engine
//!   frame, the response an empty acknowledgement. Frames to one peer are sent one at a time,
//!   in order, which keeps the engine's exchanges ordered and gives back-pressure.
//! * Files travel on `/weft/blob/1` ([`BLOB_PROTOCOL`]): a request names a blob, the
//!   document that references it and an offset; the answer is one chunk of at most
//!   [`BLOB_CHUNK`] bytes, or why not (see `crate::fetch` and `crate::network`).

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

/// The blob protocol's libp2p name.
pub const BLOB_PROTOCOL: StreamProtocol = StreamProtocol::new("/weft/blob/1");

/// The most bytes one blob answer carries: within yamux's initial window of a stream
/// (256 KiB, less room for the answer's header and the protocol's negotiation), so an
/// answer goes out whole without waiting for the receiver to widen the window — each
/// request opens a new stream, which starts at that window (`cargo bench --bench files`).
pub const BLOB_CHUNK: usize = 256 * 1024 - 1024;

/// A site asks a peer for part of a blob, naming the document (a thread) that references
/// it: the peer answers only if the asking site may hold that document and it does
/// reference the blob — so a private group's files go only where its threads go.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlobRequest {
    pub doc: weft_crdt::DocId,
    /// The blob's SHA-256 (64 hex digits).
    pub hash: String,
    /// The first byte wanted; the answer holds up to `len` bytes from there (at most
    /// [`BLOB_CHUNK`]).
    pub offset: u64,
    pub len: u32,
}

/// A peer's answer to a [`BlobRequest`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BlobResponse {
    /// The bytes from the asked offset (empty: the offset is the end), and the blob's size.
    Chunk { size: u64, bytes: Vec<u8> },
    /// The peer does not have the blob (yet).
    Missing,
    /// The asking site may not hold the document, or the document does not reference the
    /// blob.
    Refused,
    /// The peer is serving this site as much as it will at once: ask again later, or
    /// elsewhere.
    Busy,
}

/// The codec of `/weft/blob/1`: postcard, one message per stream, bounded.
#[derive(Debug, Clone, Default)]
pub struct BlobCodec;

impl request_response::Codec for BlobCodec {
    type Protocol = StreamProtocol;
    type Request = BlobRequest;
    type Response = BlobResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<BlobRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let buf = read_capped(io, 1024).await?;
        postcard::from_bytes(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<BlobResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        // Not postcard, which reads a byte string a byte at a time: a tag, then for a chunk
        // the blob's size (8 bytes, little-endian) and the bytes to the end.
        let buf = read_capped(io, BLOB_CHUNK + 16).await?;
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "a malformed blob answer");
        match buf.first() {
            Some(0) if buf.len() >= 9 => {
                let size = u64::from_le_bytes(buf[1..9].try_into().map_err(|_| bad())?);
                let mut bytes = buf;
                bytes.drain(..9);
                Ok(BlobResponse::Chunk { size, bytes })
            }
            Some(1) if buf.len() == 1 => Ok(BlobResponse::Missing),
            Some(2) if buf.len() == 1 => Ok(BlobResponse::Refused),
            Some(3) if buf.len() == 1 => Ok(BlobResponse::Busy),
            _ => Err(bad()),
        }
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: BlobRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let buf = postcard::to_stdvec(&req).map_err(io::Error::other)?;
        io.write_all(&buf).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: BlobResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match res {
            BlobResponse::Chunk { size, bytes } => {
                let mut head = [0u8; 9];
                head[1..].copy_from_slice(&size.to_le_bytes());
                io.write_all(&head).await?;
                io.write_all(&bytes).await?;
            }
            BlobResponse::Missing => io.write_all(&[1]).await?,
            BlobResponse::Refused => io.write_all(&[2]).await?,
            BlobResponse::Busy => io.write_all(&[3]).await?,
        }
        io.close().await
    }
}

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
    pub blob: request_response::Behaviour<BlobCodec>,
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
            blob: request_response::Behaviour::with_codec(
                BlobCodec,
                [(BLOB_PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(std::time::Duration::from_secs(30))
                    .with_max_concurrent_streams(256),
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
