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
    // The kept view of the thread follows each commit's replies, edits, reactions and
    // deletions: what readers get is the thread read whole.
    let t4 = tid.clone();
    node.call(move |c| {
        let p1 = c.reply("e1", &t4, "first reply", None, t0 + 3, 4).unwrap();
        c.commit().unwrap();
        let p2 = c
            .reply("e0", &t4, "second reply", Some(&p1), t0 + 4, 5)
            .unwrap();
        c.react("e0", &t4, &p1, "like", true, t0 + 5).unwrap();
        c.commit().unwrap();
        c.edit_post("e1", &t4, &p1, "first reply, edited", t0 + 6)
            .unwrap();
        c.react("e1", &t4, &p2, "like", true, t0 + 7).unwrap();
        c.react("e0", &t4, &p1, "like", false, t0 + 8).unwrap();
        c.commit().unwrap();
        c.delete_post("e0", &t4, &p2, t0 + 9).unwrap();
        c.commit().unwrap();
    })
    .await
    .unwrap();
    let kept = node
        .reader()
        .thread("e1", &tid)
        .unwrap()
        .expect("still kept");
    let t5 = tid.clone();
    let whole = node
        .call(move |c| c.replica().doc(&t5).and_then(weft_crdt::ThreadView::of))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*kept, whole);
    assert_eq!(kept.posts.len(), 3);
    assert_eq!(kept.posts[1].body, "first reply, edited");
    assert!(
        kept.posts[1].reactions.is_empty(),
        "the like was taken back"
    );
    assert!(kept.posts[2].deleted);
}

/// A node started with a manual clock and a seeded random source: the service dates every
/// change by that clock (not the system's), write budgets refill only as that clock moves,
/// and the ids of new documents come from that random source, so a test drives time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_drives_the_nodes_time() {
    use std::sync::Arc;
    use weft_node::NodeError;
    use weft_node::clock::{ManualClock, SeededRng};
    use weft_node::service::Viewer;

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
        write_budget_burst: 3,
        write_budget_per_minute: 1,
        ..Config::default()
    };
    // A day in 2030, far from the system's clock.
    let t0: i64 = 1_900_000_000_000;
    let clock = ManualClock::new(t0);
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = weft_node::start_with(
        &config,
        Arc::new(clock.clone()),
        Arc::new(SeededRng::new(42)),
        async {
            let _ = stopped.await;
        },
    )
    .await
    .unwrap();
    let service = running.service();
    assert_eq!(service.now_ms(), t0);
    let me = Viewer::new("e0");
    let g = service
        .create_group(&me, "Clockwork", "", Visibility::Public)
        .await
        .unwrap();
    let t = service
        .create_thread(&me, &g, "Tick", "tock")
        .await
        .unwrap();
    let thread = service.thread(&me, &t).await.unwrap();
    assert_eq!(thread.posts[0].created_at, t0, "dated by the node's clock");

    // The budget (3 at once, then 1 a minute) runs out within a few more writes ...
    let mut refused = None;
    for i in 0..5 {
        if let Err(e) = service.reply(&me, &t, &format!("reply {i}"), None).await {
            refused = Some(e);
            break;
        }
    }
    assert!(
        matches!(refused, Some(NodeError::RateLimited { .. })),
        "{refused:?}"
    );
    // ... and stays spent however long the system's clock runs, while the node's stands.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(matches!(
        service.reply(&me, &t, "still no", None).await,
        Err(NodeError::RateLimited { .. })
    ));
    // ... until the clock moves a minute, whatever the system's clock does.
    clock.advance(60_000);
    let pid = service.reply(&me, &t, "two", None).await.unwrap();
    let (_, post) = service.post(&me, &t, &pid).await.unwrap();
    assert_eq!(post.created_at, t0 + 60_000);

    // Reading a thread leaves one read marker; reading it again with nothing new since
    // queues no second write on the loop.
    let markers = || {
        service
            .metrics()
            .render(service.site())
            .lines()
            .find(|l| {
                l.starts_with("weft_job_seconds_count{")
                    && l.contains("job=\"threads.read_marker\"")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let reader = Viewer::new("e1");
    service.thread_page(&reader, &t).await.unwrap();
    for _ in 0..200 {
        if markers() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(markers(), 1, "the first read leaves a marker");
    service.thread_page(&reader, &t).await.unwrap();
    service.thread_page(&reader, &t).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(markers(), 1, "nothing new: no second marker");

    // The same seed draws the same ids: a second node with the same seed would too.
    let rng = SeededRng::new(42);
    use weft_node::clock::Rng;
    let first = rng.u64().unwrap();
    assert_ne!(first, rng.u64().unwrap());
}
