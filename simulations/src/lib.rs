//! # weft-simulations: many sites over a simulated WAN
//!
//! A deterministic discrete-event simulator that runs the **real** sans-IO sync
//! [`Engine`](weft_crdt::sync::Engine) and the real ingest validation of
//! [`Replica`](weft_crdt::Replica) for tens to hundreds of sites, over simulated WAN links,
//! and reports convergence latency, traffic and storage.
//!
//! ## What it owns
//!
//! * [`net`]: regions, the inter-region round-trip matrix and the link model (jitter, loss
//!   repaired by retransmission, a shared uplink per site).
//! * [`sim`]: the event queue and the simulated sites; faults (partitions, crashes, a late
//!   empty site, a private group, a byzantine site).
//! * [`scenario`]: the named scenarios and their volumes.
//! * [`report`]: statistics, a Markdown table and SVG plots.
//!
//! The binary (`cargo run -p weft-simulations --release -- <scenario> [--sites N] [--seed S]
//! [--days D] [--resync-s S] [--out DIR]`, scenarios `steady`, `partition`, `crash`,
//! `private`, `byzantine`) runs one scenario and writes its report.
//!
//! ## The model
//!
//! * **Sites.** Each site is one [`Replica`](weft_crdt::Replica) and one sync engine
//!   (`relay: false`, `push_public: true`), connected to every other site (a full mesh, as
//!   the engine's `relay: false` setting assumes). Sites are spread over six regions by a
//!   fixed pattern ([`net::Region::of_site`]).
//! * **World.** The directory comes from `weft_crdt::testkit::World`: a few authors per
//!   site, each with a key certified by its home site's node key; an author posts only at
//!   its home site. The groups that exist before the run are made once and every site starts
//!   with a copy (as if they had synced before); a joining site starts empty.
//! * **Posting.** Posts are drawn up front: a uniformly chosen site, a time following that
//!   site's working day in its time zone (so activity follows the sun), a popular group (a
//!   skewed choice), and whether it starts a thread (30 %) or replies to a recent thread the
//!   site holds. A new thread is two changes (the thread's genesis and its listing in the
//!   group); a reply is one.
//! * **Links.** A frame from site a to site b leaves once a's uplink (100 Mbit/s, shared by
//!   all of a's connections) is free, travels half the round-trip time of the two regions
//!   plus a uniform jitter of up to 10 %, and, with probability 0.1 %, is lost and
//!   retransmitted one QUIC probe timeout later (RTT + 4 × its variation + 25 ms of ACK
//!   delay: [`net::LinkModel::retransmit_after_us`]) — connections are reliable ordered streams,
//!   so a frame never overtakes the previous one on the same connection. A frame in flight
//!   when its connection goes down is lost.
//! * **Faults.** A partition calls `handle_disconnect` on both sides of every cut connection
//!   and `handle_connect` when it heals. A crash drops all the site's connections and its
//!   engine's state; its replica (stored on disk in a real node) survives, and the restart
//!   starts a fresh engine and reconnects.
//! * **A byzantine site** (scenario `byzantine`, the last site). It is an admitted peer with
//!   a real engine that syncs honestly, and at planned times it also writes forged
//!   `Changes` frames straight onto its links, one class of forgery per frame, with the
//!   certificates they need: a post over the decoder's limits, a departed employee naming
//!   the directory version before they left, a key certified by a revoked node key (which it
//!   stole), a squatted certificate for an honest employee's key, a post under another
//!   author's post key, a thread listed in another group, a removed member writing in the
//!   private group they were removed from (naming the removal, or older heads below the
//!   floor), a broken signature. For that the world has a second directory version (issued
//!   before the run, held by every site) that marks one of its employees left and re-keys
//!   another site, revoking its old key; and a private group, held by its three member sites
//!   from the start, from which the byzantine member is removed during the run. See
//!   [`sim::Forgery`] and the `sim::byzantine` module.
//! * **Not modelled.** CPU time (ingest is instantaneous in simulated time), publishing a
//!   directory version during the run (the byzantine scenario's later version is in place
//!   before it starts, at every site), gossipsub (public changes are pushed by the engine),
//!   connection set-up time.
//!
//! ## Determinism and time
//!
//! Simulated time is a `u64` of microseconds (engines see milliseconds); it has no relation
//! to wall time: a run goes as fast as the CPU allows, and a day of 500 sites takes minutes.
//! Every random draw comes from the seed: the posting plan from
//! [`weft_crdt::testkit::Rng`], and each frame's jitter and loss from a hash of (seed, link,
//! frame number on that link), so that draws do not depend on visiting order. Events at the
//! same instant run in the order they were scheduled. The engine keeps its peers in hash maps
//! whose iteration order changes from run to run, so the frames each engine emits after a
//! step are put in a canonical order (by destination, keeping each destination's order)
//! before they go on the wire. Same seed → same report, including a digest of every arrival
//! time. The byzantine site's forgeries are made from its replica's state at planned times
//! and ed25519 signatures are deterministic, so they are part of the same guarantee.
//!
//! ## Latency source
//!
//! [`net::RTT_MS`] holds approximate median round-trip times between representative cities
//! (Frankfurt, N. Virginia, Singapore, São Paulo, Cape Town, Sydney) as read from public
//! cloud inter-region latency tables (AWS inter-region latencies as published by
//! cloudping.co, Azure's network round-trip latency statistics) and WonderNetwork's global
//! ping statistics, rounded to 5 ms.
//!
//! ## What is measured
//!
//! * Convergence: for each post, the time until the last site that may hold it has accepted
//!   it (p50, p99, max), against the aim p99 ≤ 1.5 × the slowest one-way path + 50 ms; and
//!   for each (post, site), the latency compared with the physical bound (the shortest
//!   one-way path between the two regions through any chain of regions).
//! * Traffic: bytes and frames per site per simulated day; frames and bytes per post; signed
//!   changes sent per (change, site) pair that had to travel (aim ≤ 1.5).
//! * Storage: bytes of signed changes each replica holds.
//! * Recovery: after a partition heals, a site restarts or an empty site joins, how long
//!   until the affected sites hold everything made before (aim: within one sync period).
//! * Privacy: any change of a private group or its threads accepted at a site homing no
//!   member is a violation, as is any such change held or waiting there at the end.
//! * Byzantine site: per class of forgery, how many were made, how many frames carried
//!   them, the verdict a copy of the byzantine site's own replica reached when each was made
//!   (what an honest node must decide), how many honest sites accepted one (must be 0,
//!   except the foreign listing, which the crdt accepts and the node's views filter: it must
//!   be accepted by every honest site alike), and how many are held or waiting anywhere at
//!   the end; whether the squatted employee's later changes reached everyone; and whether
//!   every honest site holds exactly the same documents with the same heads (each document
//!   at every site that may hold it, nowhere else), with nothing waiting.

pub mod net;
pub mod report;
pub mod scenario;
pub mod sim;

pub use report::Report;
pub use sim::{ByzantineSpec, Fault, Forgery, PrivateGroupSpec, Sim, SimConfig, Topology, run};
pub use weft_crdt as crdt;
