//! Files between sites (`/weft/blob/1`): serving a peer's requests, and fetching a blob this
//! site lacks from the sites that may have it.
//!
//! * **Who may have a blob** is who may hold a document that references it. A request names
//!   the document (a thread whose post carries the file); the serving side answers only if
//!   the asking site may hold that document (the replica's placement rule, read off the loop
//!   by [`crate::access::site_may_hold`]) and the document does reference the blob. So a
//!   private group's files go only to the sites of its members, like its threads — a site
//!   without a member is refused (`Refused`, counted in `weft_blob_requests_refused_total`).
//! * **Fetching** is on demand: when someone opens a file whose bytes are not here, the
//!   service asks [`Transfers::fetch`], which asks the sites that may hold the document, the
//!   uploader's site first. Chunks of [`BLOB_CHUNK`] bytes are asked for a few at a time
//!   ([`WINDOW`] in flight: one transfer never has more than that much of a peer's answers
//!   in memory) and written in order to a temporary file while they are hashed. A peer that
//!   stops answering, is busy or lacks the blob is left for the next, **from the same
//!   offset** (resumed, not restarted). At the end the bytes must hash to the blob's name: if
//!   not, they are dropped, the sites that sent them are counted (`weft_blobs_corrupt_total`,
//!   a warning names them) and the blob is fetched again from the others. Nobody is shown a
//!   peer's bytes before they are checked: the hash covers the whole file.
//! * **Bounds**: at most [`MAX_TRANSFERS`] fetches at once at a site (others wait their
//!   turn), two people opening the same file share one fetch, and a site serves at most
//!   [`MAX_SERVING_PER_PEER`] requests of one peer at once (more are answered `Busy`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use libp2p::futures::StreamExt;
use libp2p::futures::stream::FuturesOrdered;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use weft_crdt::DocId;

use crate::blobs::{BlobError, BlobId, BlobStore, Incoming};
use crate::error::NodeError;
use crate::metrics::Metrics;
use crate::net::{BLOB_CHUNK, BlobRequest, BlobResponse};
use crate::network::BlobGet;

/// Chunks asked of a peer before the first has come back.
pub const WINDOW: usize = 16;

/// Fetches running at once at a site.
pub const MAX_TRANSFERS: usize = 4;

/// Requests of one peer served at once.
pub const MAX_SERVING_PER_PEER: usize = 64;

/// Answers peers' requests for blobs (on a blocking thread: it reads files).
#[derive(Debug, Clone)]
pub(crate) struct Server {
    pub(crate) reader: crate::Reader,
    pub(crate) blobs: BlobStore,
    pub(crate) metrics: Arc<Metrics>,
}

impl Server {
    /// The answer to `site`'s request.
    pub(crate) fn serve(&self, site: &str, req: &BlobRequest) -> BlobResponse {
        let Some(id) = BlobId::parse(&req.hash) else {
            return BlobResponse::Refused;
        };
        if !self.may_send(site, &req.doc, &id) {
            Metrics::add(&self.metrics.blob_requests_refused, 1);
            tracing::warn!(peer = %site, doc = %req.doc, blob = %id, "a blob refused to a site that may not hold a document referencing it");
            return BlobResponse::Refused;
        }
        match self.read(&id, req.offset, req.len) {
            Ok(r) => {
                if let BlobResponse::Chunk { bytes, .. } = &r {
                    Metrics::add(&self.metrics.blob_bytes_out, bytes.len() as u64);
                }
                r
            }
            Err(BlobError::NotFound) => BlobResponse::Missing,
            Err(e) => {
                tracing::warn!(blob = %id, error = %e, "a blob could not be read for a peer");
                BlobResponse::Missing
            }
        }
    }

    /// Whether `site` may be sent blob `id` on account of document `doc`: it may hold the
    /// document, and one of the document's posts carries the blob.
    fn may_send(&self, site: &str, doc: &DocId, id: &BlobId) -> bool {
        let dir = self.reader.directory();
        let model = self.reader.model();
        model.threads_with_file(id.as_str()).any(|t| t == doc)
            && crate::access::site_may_hold(&model, &dir, site, doc)
    }

    fn read(&self, id: &BlobId, offset: u64, len: u32) -> Result<BlobResponse, BlobError> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = self.blobs.open_blob(id)?;
        let size = f.metadata()?.len();
        let len = (len as usize).min(BLOB_CHUNK) as u64;
        let want = size.saturating_sub(offset).min(len) as usize;
        let mut bytes = vec![0u8; want];
        if want > 0 {
            f.seek(SeekFrom::Start(offset))?;
            f.read_exact(&mut bytes)?;
        }
        Ok(BlobResponse::Chunk { size, bytes })
    }
}

/// How a fetch ended, shared by everyone waiting on it.
type Outcome = Option<Result<(), String>>;

/// The fetches of one site. Cheap to clone.
#[derive(Clone)]
pub struct Transfers {
    inner: Arc<Inner>,
}

struct Inner {
    net: mpsc::UnboundedSender<BlobGet>,
    blobs: BlobStore,
    reader: crate::Reader,
    metrics: Arc<Metrics>,
    site: String,
    running: Mutex<HashMap<BlobId, watch::Receiver<Outcome>>>,
    slots: Semaphore,
}

impl std::fmt::Debug for Transfers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Transfers({})", self.inner.site)
    }
}

/// One blob to fetch.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub id: BlobId,
    /// The size the referencing post gives (signed by its author).
    pub size: u64,
    /// The document that references it: what the request names.
    pub doc: DocId,
    /// A site to ask first (the uploader's).
    pub first: Option<String>,
}

impl Transfers {
    pub(crate) fn new(
        net: mpsc::UnboundedSender<BlobGet>,
        blobs: BlobStore,
        reader: crate::Reader,
        metrics: Arc<Metrics>,
        site: &str,
    ) -> Transfers {
        Transfers {
            inner: Arc::new(Inner {
                net,
                blobs,
                reader,
                metrics,
                site: site.to_owned(),
                running: Mutex::default(),
                slots: Semaphore::new(MAX_TRANSFERS),
            }),
        }
    }

    /// Brings blob `w.id` here from a site that has it, unless it is here already; returns
    /// once it is stored and checked. Two callers asking for the same blob share one fetch.
    pub async fn fetch(&self, w: Wanted) -> Result<(), NodeError> {
        if self.inner.blobs.has(&w.id) {
            return Ok(());
        }
        let mut rx = {
            let mut running = self
                .inner
                .running
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match running.get(&w.id) {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    running.insert(w.id.clone(), rx.clone());
                    let this = self.clone();
                    tokio::spawn(async move {
                        let id = w.id.clone();
                        let outcome = this.run(w).await;
                        this.inner
                            .running
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(&id);
                        let _ = tx.send(Some(outcome));
                    });
                    rx
                }
            }
        };
        let outcome = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| NodeError::ShuttingDown)?
            .clone();
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(why)) => Err(NodeError::Unavailable(why)),
            None => Err(NodeError::ShuttingDown),
        }
    }

    /// The sites that may hold `doc` (so may have its files), `first` first.
    fn candidates(&self, doc: &DocId, first: Option<&str>) -> Vec<String> {
        let dir = self.inner.reader.directory();
        let model = self.inner.reader.model();
        let mut sites: Vec<String> = dir
            .sites
            .keys()
            .filter(|s| **s != self.inner.site)
            .filter(|s| crate::access::site_may_hold(&model, &dir, s, doc))
            .cloned()
            .collect();
        if let Some(f) = first
            && let Some(i) = sites.iter().position(|s| s == f)
        {
            let s = sites.remove(i);
            sites.insert(0, s);
        }
        sites
    }

    async fn run(&self, w: Wanted) -> Result<(), String> {
        let _slot = self
            .inner
            .slots
            .acquire()
            .await
            .map_err(|_| "the node is shutting down".to_owned())?;
        let m = &self.inner.metrics;
        Metrics::add(&m.blob_transfers, 1);
        let result = self.transfer(&w).await;
        m.blob_transfers.dec();
        match &result {
            Ok(()) => Metrics::add(&m.blobs_fetched, 1),
            Err(why) => {
                Metrics::add(&m.blob_fetch_failures, 1);
                tracing::warn!(blob = %w.id, doc = %w.doc, reason = %why, "a file could not be fetched");
            }
        }
        result
    }

    async fn transfer(&self, w: &Wanted) -> Result<(), String> {
        let started = std::time::Instant::now();
        let sites = self.candidates(&w.doc, w.first.as_deref());
        if sites.is_empty() {
            return Err("no other site holds this file".into());
        }
        let fresh = || {
            self.inner
                .blobs
                .incoming(&w.id, w.size)
                .map_err(|e| match e {
                    BlobError::Full { quota } => {
                        format!("this site's files are at their limit of {quota} bytes")
                    }
                    e => format!("the file cannot be stored: {e}"),
                })
        };
        let mut part = Some(fresh()?);
        // The sites whose bytes are in `part`: if it does not match its hash, they are why.
        let mut contributors: BTreeSet<String> = BTreeSet::new();
        let mut last = String::from("no site answered");
        let mut bad: BTreeSet<String> = BTreeSet::new();
        for site in &sites {
            if bad.contains(site) {
                continue;
            }
            let Some(mut p) = part.take() else { break };
            let before = p.written();
            let (back, ended) = self.take_from(site, w, p).await;
            p = back.ok_or("the file's write failed")?;
            if p.written() > before {
                contributors.insert(site.clone());
            }
            match ended {
                Ended::Complete => {
                    let id = w.id.clone();
                    let received_ms = started.elapsed().as_millis() as u64;
                    match tokio::task::spawn_blocking(move || p.finish()).await {
                        Ok(Ok(())) => {
                            tracing::info!(blob = %id, size = w.size, from = ?contributors, received_ms, stored_ms = started.elapsed().as_millis() as u64, "a file fetched from a peer");
                            return Ok(());
                        }
                        Ok(Err(BlobError::Corrupt(_))) => {
                            Metrics::add(&self.inner.metrics.blobs_corrupt, 1);
                            tracing::warn!(blob = %id, sites = ?contributors, "a file from a peer does not match its hash: dropped, asking another site");
                            last = "the bytes sent did not match the file's hash".into();
                            bad.append(&mut contributors);
                            part = Some(fresh()?);
                        }
                        Ok(Err(e)) => return Err(format!("the file cannot be stored: {e}")),
                        Err(e) => return Err(format!("the file cannot be stored: {e}")),
                    }
                }
                Ended::Gave(why) => {
                    last = format!("{site}: {why}");
                    part = Some(p);
                }
                Ended::Lied => {
                    Metrics::add(&self.inner.metrics.blobs_corrupt, 1);
                    tracing::warn!(blob = %w.id, peer = %site, "a peer sent a file whose size is not the one its post gives: dropped, asking another site");
                    last = format!("{site} sent the wrong file");
                    bad.append(&mut contributors);
                    bad.insert(site.clone());
                    part = Some(fresh()?);
                }
            }
        }
        Err(format!(
            "the file is at other sites, none of which could send it now ({last})"
        ))
    }

    /// Asks `site` for what `part` lacks, a window of chunks at a time. Returns the part and
    /// how it ended.
    async fn take_from(
        &self,
        site: &str,
        w: &Wanted,
        mut part: Incoming,
    ) -> (Option<Incoming>, Ended) {
        let mut next = part.written();
        let mut asked = FuturesOrdered::new();
        loop {
            while asked.len() < WINDOW && next < w.size {
                let len = (w.size - next).min(BLOB_CHUNK as u64);
                asked.push_back(self.ask(site, w, next, len as u32));
                next += len;
            }
            if part.written() >= w.size {
                return (Some(part), Ended::Complete);
            }
            let Some(answer) = asked.next().await else {
                return (Some(part), Ended::Complete);
            };
            match answer {
                Ok(BlobResponse::Chunk { size, bytes }) => {
                    let want = (w.size - part.written()).min(BLOB_CHUNK as u64);
                    if size != w.size || bytes.len() as u64 != want {
                        return (Some(part), Ended::Lied);
                    }
                    Metrics::add(&self.inner.metrics.blob_bytes_in, bytes.len() as u64);
                    let written = tokio::task::spawn_blocking(move || {
                        let r = part.write(&bytes);
                        (part, r)
                    })
                    .await;
                    match written {
                        Ok((p, Ok(()))) => part = p,
                        Ok((p, Err(e))) => {
                            return (Some(p), Ended::Gave(format!("not stored: {e}")));
                        }
                        Err(e) => {
                            // The write's thread failed: the part is lost with it.
                            tracing::error!(error = %e, "a file's write failed");
                            return (None, Ended::Gave("the write failed".into()));
                        }
                    }
                }
                Ok(BlobResponse::Missing) => {
                    return (Some(part), Ended::Gave("does not have it".into()));
                }
                Ok(BlobResponse::Refused) => return (Some(part), Ended::Gave("refused".into())),
                Ok(BlobResponse::Busy) => return (Some(part), Ended::Gave("busy".into())),
                Err(why) => return (Some(part), Ended::Gave(why)),
            }
        }
    }

    /// One request to `site`, answered or failed.
    fn ask(
        &self,
        site: &str,
        w: &Wanted,
        offset: u64,
        len: u32,
    ) -> impl Future<Output = Result<BlobResponse, String>> + use<> {
        let (reply, rx) = oneshot::channel();
        let sent = self.inner.net.send(BlobGet {
            site: site.to_owned(),
            req: BlobRequest {
                doc: w.doc.clone(),
                hash: w.id.as_str().to_owned(),
                offset,
                len,
            },
            reply,
        });
        async move {
            if sent.is_err() {
                return Err("the node is shutting down".into());
            }
            rx.await
                .unwrap_or_else(|_| Err("the node is shutting down".into()))
        }
    }
}

/// How a transfer from one site ended.
enum Ended {
    /// Every byte is written.
    Complete,
    /// The site could not go on (the reason); another may take over from here.
    Gave(String),
    /// The site answered with a size or length the blob does not have.
    Lied,
}
