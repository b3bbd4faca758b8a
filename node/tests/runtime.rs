//! The runtime: reads are answered off the loop, never queued behind what the loop is doing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use weft_crdt::Visibility;
use weft_crdt::testkit::World;
use weft_node::{Config, files};

/// While the loop is held by a job that waits for the test to let it go, the feed, a group's
/// threads, notifications, settings and people search are still answered: they never queue
/// on the loop. Then the held job finishes and a write through the loop is seen by the reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_answered_while_the_loop_is_busy() {
    let w = World::new(1, 3);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    files::write_secret_key(&d.join("node.key"), &w.nodes[0]).unwrap();
    files::write_public_key(&d.join("authority.pub"), &w.authority.public()).unwrap();
    files::write_atomic(&d.join("directory.signed"), &w.directory.to_bytes()).unwrap();
    let config = Config {
        site: "site0".into(),
        data_dir: d.join("data"),
        node_key: d.join("node.key"),
        directory: d.join("directory.signed"),
        trust: vec![d.join("authority.pub")],
        listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
        ..Config::default()
    };
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = weft_node::start(&config, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let node = running.handle;
    let t0 = weft_node::run::now_ms() as i64;
    let (gid, tid) = node
        .call(move |c| {
            let g = c
                .create_group("e0", "Reading room", "", Visibility::Public, t0, 1)
                .unwrap();
            let t = c
                .create_thread("e0", &g, "Quiet", "shh @e1", t0 + 1, 2)
                .unwrap();
            (g, t)
        })
        .await
        .unwrap();
    // A thread read once through the loop is kept for readers.
    let t2 = tid.clone();
    node.call(move |c| c.thread_for("e1", &t2))
        .await
        .unwrap()
        .unwrap();
    // Hold the loop until told.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (entered, wait_entered) = std::sync::mpsc::channel::<()>();
    let busy = {
        let node = node.clone();
        tokio::spawn(async move {
            node.call(move |_| {
                entered.send(()).unwrap();
                held.recv_timeout(Duration::from_secs(60)).unwrap();
            })
            .await
            .unwrap();
        })
    };
    wait_entered.recv_timeout(Duration::from_secs(30)).unwrap();
    // The loop is busy now: every read below would hang if it went through it.
    let reader = node.reader().clone();
    let g = gid.clone();
    let t3 = tid.clone();
    let reads = tokio::task::spawn_blocking(move || {
        let feed = reader.feed("e0", None, 50).unwrap();
        let threads = reader
            .thread_summaries_of("e1", &g, None, 50)
            .unwrap()
            .unwrap();
        let notes = reader.notifications("e1", None, 10).unwrap();
        let people = reader.find_people("employee", 10);
        let settings = reader.settings("e1").unwrap();
        let thread = reader
            .thread("e1", &t3)
            .unwrap()
            .expect("the thread view was kept");
        let group = reader.group("e1", &g).expect("a public group");
        assert_eq!(group.0.name, "Reading room");
        assert_eq!(thread.posts.len(), 1);
        (feed, threads, notes, people, settings)
    });
    let (feed, threads, notes, people, _settings) =
        tokio::time::timeout(Duration::from_secs(30), reads)
            .await
            .expect("a read waited for the loop")
            .unwrap();
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0].thread.id, tid);
    assert_eq!(threads.len(), 1);
    assert_eq!(notes.len(), 1, "the mention");
    assert_eq!(people.len(), 3);
    release.send(()).unwrap();
    busy.await.unwrap();
    // A write through the loop is visible to the reader once answered.
    node.call(move |c| {
        c.create_thread("e1", &gid, "Later", "x", t0 + 2, 3)
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        node.reader().feed("e1", None, 50).unwrap().len(),
        1,
        "e1 follows what they post"
    );
}
