//! Validate + apply of signed changes, against raw Automerge `apply_changes` of the same
//! changes, measured in the same run. Prints the ratio.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::hint::black_box;
use std::time::Instant;

use automerge::{Automerge, Change};
use criterion::{Criterion, criterion_group, criterion_main};

fn raw_apply(raw: &[Vec<u8>]) {
    let changes: Vec<Change> = raw
        .iter()
        .map(|b| Change::try_from(b.as_slice()).unwrap())
        .collect();
    let mut doc = Automerge::new();
    doc.apply_changes(changes).unwrap();
    black_box(doc.get_heads());
}

fn bench(c: &mut Criterion) {
    let (w, _, changes) = common::thread_with_replies(1_000);
    let signed: Vec<Vec<u8>> = changes.iter().map(|c| c.bytes().to_vec()).collect();
    // The same changes, only those of the thread (raw apply needs one document).
    let thread = changes[1].doc().clone();
    let raw: Vec<Vec<u8>> = changes
        .iter()
        .filter(|c| *c.doc() == thread)
        .map(|c| c.change().raw_bytes().to_vec())
        .collect();
    let signed_thread: Vec<Vec<u8>> = changes
        .iter()
        .filter(|c| *c.doc() != thread)
        .chain(changes.iter().filter(|c| *c.doc() == thread))
        .map(|c| c.bytes().to_vec())
        .collect();
    let _ = signed;

    let mut g = c.benchmark_group("ingest_1000_changes");
    g.sample_size(10);
    g.bench_function("automerge_decode_and_apply", |b| b.iter(|| raw_apply(&raw)));
    g.bench_function("weft_verify_validate_apply", |b| {
        b.iter(|| {
            let mut r = w.replica();
            let report = r.ingest_bytes(signed_thread.iter().map(Vec::as_slice));
            assert_eq!(report.accepted.len(), signed_thread.len());
        })
    });
    g.finish();

    // The ratio, measured here, interleaved, so machine noise hits both alike.
    let mut base = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        raw_apply(&raw);
        base.push(t.elapsed());
        let mut r = w.replica();
        let t = Instant::now();
        r.ingest_bytes(signed_thread.iter().map(Vec::as_slice));
        ours.push(t.elapsed());
    }
    base.sort();
    ours.sort();
    // Where the time goes: decoding, and the signature checks alone.
    let decoded: Vec<weft_crdt::SignedChange> = signed_thread
        .iter()
        .map(|b| weft_crdt::SignedChange::decode(b).unwrap())
        .collect();
    let decode = common::median(5, || {
        common::time(|| {
            for b in &signed_thread {
                black_box(weft_crdt::SignedChange::decode(b).unwrap());
            }
        })
    });
    let keys: Vec<weft_keys::PublicKey> = decoded
        .iter()
        .map(|c| {
            w.authors
                .iter()
                .find(|a| a.employee == c.author())
                .unwrap()
                .key
                .public()
        })
        .collect();
    let verify = common::median(5, || {
        common::time(|| {
            for (c, k) in decoded.iter().zip(&keys) {
                c.envelope().verify(weft_keys::Domain::CHANGE, k).unwrap();
            }
        })
    });
    println!(
        "per change: decode {:.1} µs, signature check {:.1} µs",
        decode.as_secs_f64() * 1e6 / decoded.len() as f64,
        verify.as_secs_f64() * 1e6 / decoded.len() as f64
    );
    let (b, o) = (base[3], ours[3]);
    println!(
        "\nvalidate+apply of {} signed changes: {:?} ({:.1} µs/change); raw automerge decode+apply: {:?} ({:.1} µs/change); ratio {:.2}×",
        signed_thread.len(),
        o,
        o.as_secs_f64() * 1e6 / signed_thread.len() as f64,
        b,
        b.as_secs_f64() * 1e6 / raw.len() as f64,
        o.as_secs_f64() / b.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
