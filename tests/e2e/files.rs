//! Files over real HTTP against a real node (issue 17, first part): an upload streamed into
//! the blob store within the node's limit, read back whole and by ranges, private to its
//! uploader until files are attached to posts.

use crate::harness::{Company, http_raw};

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn a_file_is_uploaded_read_back_by_ranges_and_kept_within_the_limit() {
    let company = Company::new();
    company.configure(0, "max_file_mb = 1");
    let node = company.start(0);
    let port = node.http_port;
    let helene = node.login("hdupre");
    let claire = node.login("cmartin");
    let auth = |t: &str| format!("Authorization: Bearer {t}");
    // 300,000 bytes of text (the harness sends text bodies).
    let content: String = (0..300_000u32)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let (s, _, body) = http_raw(
        port,
        "POST",
        "/api/v1/files",
        &[
            auth(&helene),
            "Content-Type: text/plain".into(),
            "X-File-Name: r%C3%A9sum%C3%A9.txt".into(),
        ],
        &content,
    )
    .unwrap();
    assert_eq!(s, 201, "{body}");
    let f: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(f["size"], 300_000);
    assert_eq!(f["name"], "résumé.txt");
    assert_eq!(f["media_type"], "text/plain");
    let url = f["url"].as_str().unwrap().to_owned();
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 64);

    // Whole: the same bytes, as an attachment (text is not shown inline from the node).
    let (s, head, body) = http_raw(port, "GET", &url, &[auth(&helene)], "").unwrap();
    assert_eq!(s, 200);
    assert_eq!(body, content);
    assert_eq!(header(&head, "accept-ranges"), Some("bytes"));
    assert!(
        header(&head, "content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
    // Ranges: a span, an open end, a suffix; outside: 416.
    for (range, start, end) in [
        ("bytes=0-99", 0, 99),
        ("bytes=299990-", 299_990, 299_999),
        ("bytes=-10", 299_990, 299_999),
        ("bytes=1000-1999", 1000, 1999),
    ] {
        let (s, head, body) = http_raw(
            port,
            "GET",
            &url,
            &[auth(&helene), format!("Range: {range}")],
            "",
        )
        .unwrap();
        assert_eq!(s, 206, "{range}");
        assert_eq!(
            header(&head, "content-range"),
            Some(format!("bytes {start}-{end}/300000").as_str()),
            "{range}"
        );
        assert_eq!(body, content[start..=end], "{range}");
    }
    let (s, head, _) = http_raw(
        port,
        "GET",
        &url,
        &[auth(&helene), "Range: bytes=300000-".into()],
        "",
    )
    .unwrap();
    assert_eq!(s, 416);
    assert_eq!(header(&head, "content-range"), Some("bytes */300000"));

    // Someone else may not read it (until it is attached to a post they may read).
    let (s, _, _) = http_raw(port, "GET", &url, &[auth(&claire)], "").unwrap();
    assert_eq!(s, 404);
    let (s, _, _) = http_raw(port, "GET", "/api/v1/files/nothex", &[auth(&helene)], "").unwrap();
    assert_eq!(s, 404);

    // Attached to a post in a public group: everyone who may read the post may read it.
    let g = node.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "CV club", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    // Someone else's upload cannot be attached.
    node.api(
        &claire,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(serde_json::json!({"title": "Mine?", "body": "x", "attachments": [id]})),
        422,
    );
    let t = node.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(serde_json::json!({"title": "My CV", "body": "Attached", "attachments": [id]})),
        201,
    );
    let att = &t["root"]["attachments"][0];
    assert_eq!(
        (att["id"].as_str(), att["name"].as_str()),
        (Some(id.as_str()), Some("résumé.txt"))
    );
    assert_eq!(att["size"], 300_000);
    let (s, _, body) = http_raw(port, "GET", &url, &[auth(&claire)], "").unwrap();
    assert_eq!(s, 200, "a reader of the post reads its file");
    assert_eq!(body.len(), 300_000);
    // A file attached in a private group stays with its members.
    let (s, _, body) = http_raw(
        port,
        "POST",
        "/api/v1/files",
        &[
            auth(&helene),
            "Content-Type: text/plain".into(),
            "X-File-Name: secret.txt".into(),
        ],
        "salaires 2027",
    )
    .unwrap();
    assert_eq!(s, 201, "{body}");
    let secret: serde_json::Value = serde_json::from_str(&body).unwrap();
    let p = node.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "CSE", "visibility": "private"})),
        201,
    );
    let pid = p["id"].as_str().unwrap().to_owned();
    node.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{pid}/threads"),
        Some(
            serde_json::json!({"title": "Salaires", "body": "Voir", "attachments": [secret["id"]]}),
        ),
        201,
    );
    let (s, _, _) = http_raw(
        port,
        "GET",
        secret["url"].as_str().unwrap(),
        &[auth(&claire)],
        "",
    )
    .unwrap();
    assert_eq!(s, 404, "not a member: not found");

    // Over the node's limit (1 MiB here): 413 naming the limit, and nothing kept.
    let big = "x".repeat(1_100_000);
    let (s, _, body) = http_raw(
        port,
        "POST",
        "/api/v1/files",
        &[
            auth(&helene),
            "Content-Type: text/plain".into(),
            "X-File-Name: big.txt".into(),
        ],
        &big,
    )
    .unwrap();
    assert_eq!(s, 413, "{body}");
    assert!(body.contains("1048576"), "{body}");
    let blobs = company.store_dir(0).parent().unwrap().join("blobs");
    let count = |dir: &std::path::Path| -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != "tmp")
            .map(|e| std::fs::read_dir(e.path()).map_or(0, |d| d.count()))
            .sum()
    };
    assert_eq!(
        count(&blobs),
        2,
        "only the two files under the limit are kept"
    );
    assert_eq!(std::fs::read_dir(blobs.join("tmp")).unwrap().count(), 0);

    // With the session cookie, an upload must name its file (a page elsewhere cannot).
    let cookie = crate::ui::ui_login(port, "hdupre");
    let (s, _, _) = http_raw(
        port,
        "POST",
        "/api/v1/files",
        &[cookie.clone(), "Content-Type: text/plain".into()],
        "hello",
    )
    .unwrap();
    assert_eq!(s, 415);
    let (s, _, _) = http_raw(
        port,
        "POST",
        "/api/v1/files",
        &[
            cookie,
            "Content-Type: text/plain".into(),
            "X-File-Name: a.txt".into(),
        ],
        "hello",
    )
    .unwrap();
    assert_eq!(s, 201);
}

/// Uploads spend the write budget before any byte is stored: one employee sending the same
/// upload many times at once gets 429s, and only what the budget allowed is kept.
#[test]
fn uploads_at_once_are_held_to_the_write_budget() {
    let company = Company::new();
    company.configure(0, "write_budget_burst = 3\nwrite_budget_per_minute = 1");
    let node = company.start(0);
    let port = node.http_port;
    let token = node.login("hdupre");
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let token = &token;
                s.spawn(move || {
                    http_raw(
                        port,
                        "POST",
                        "/api/v1/files",
                        &[
                            format!("Authorization: Bearer {token}"),
                            "Content-Type: text/plain".into(),
                            format!("X-File-Name: f{i}.txt"),
                        ],
                        &format!("file number {i}"),
                    )
                    .unwrap()
                    .0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert!(created <= 3, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 429),
        "{statuses:?}"
    );
    let blobs = company.store_dir(0).parent().unwrap().join("blobs");
    let kept: usize = std::fs::read_dir(&blobs)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "tmp")
        .map(|e| std::fs::read_dir(e.path()).map_or(0, |d| d.count()))
        .sum();
    assert_eq!(kept, created);
}

/// A file's SHA-256 as hex.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn all_connected(nodes: &[&crate::harness::Node]) {
    for n in nodes {
        n.wait_until(
            std::time::Duration::from_secs(60),
            "all peers are connected",
            |n| n.connected_peers() == nodes.len() - 1,
        );
    }
}

/// Uploads `content` at `node` as `name` and posts it in a new thread of group `gid`;
/// returns the file's id and the thread's.
fn post_file(
    node: &crate::harness::Node,
    token: &str,
    gid: &str,
    name: &str,
    content: &str,
) -> (String, String) {
    let (s, _, body) = http_raw(
        node.http_port,
        "POST",
        "/api/v1/files",
        &[
            format!("Authorization: Bearer {token}"),
            "Content-Type: application/octet-stream".into(),
            format!("X-File-Name: {name}"),
        ],
        content,
    )
    .unwrap();
    assert_eq!(s, 201, "{body}");
    let f: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = f["id"].as_str().unwrap().to_owned();
    let t = node.api(
        token,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(serde_json::json!({"title": name, "body": "Ci-joint", "attachments": [id]})),
        201,
    );
    (id, t["id"].as_str().unwrap().to_owned())
}

/// Waits until thread `tid` is readable at `node` by `token`, its file attached.
fn thread_arrives(node: &crate::harness::Node, token: &str, tid: &str) {
    node.wait_until(
        std::time::Duration::from_secs(60),
        "the thread arrives with its file",
        |n| {
            n.request("GET", &format!("/api/v1/threads/{tid}"), None, Some(token))
                .is_some_and(|(s, body)| {
                    s == 200
                        && serde_json::from_str::<serde_json::Value>(&body).is_ok_and(|t| {
                            t["root"]["attachments"]
                                .as_array()
                                .is_some_and(|a| !a.is_empty())
                        })
                })
        },
    );
}

/// The blob folder of site `i`.
fn blob_path(company: &Company, i: usize, id: &str) -> std::path::PathBuf {
    company
        .store_dir(i)
        .parent()
        .unwrap()
        .join("blobs")
        .join(&id[..2])
        .join(id)
}

/// A file attached at Paris opens at Bangalore and New York with the same bytes, fetched on
/// demand; a copy that went bad at Paris is refused by New York, which fetches it from
/// Bangalore instead.
#[test]
fn a_file_attached_at_paris_opens_elsewhere_and_a_corrupt_copy_is_fetched_again() {
    let company = Company::new();
    let nodes: Vec<crate::harness::Node> = (0..3).map(|i| company.start(i)).collect();
    all_connected(&nodes.iter().collect::<Vec<_>>());
    let tokens = [
        nodes[0].login("hdupre"),
        nodes[1].login("jsmith"),
        nodes[2].login("pkumar"),
    ];
    let g = nodes[0].api(
        &tokens[0],
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Vidéos", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    // Several chunks' worth (1 MiB each), the last one short.
    let content: String = (0..2_600_000u32)
        .map(|i| char::from(b'a' + ((i * 7 + i / 1000) % 26) as u8))
        .collect();
    let (id, tid) = post_file(&nodes[0], &tokens[0], &gid, "tuto.bin", &content);
    assert_eq!(id, sha256_hex(content.as_bytes()));
    let url = format!("/api/v1/files/{id}");
    let auth = |t: &str| format!("Authorization: Bearer {t}");

    // Bangalore: fetched from Paris when opened.
    thread_arrives(&nodes[2], &tokens[2], &tid);
    assert!(
        !blob_path(&company, 2, &id).exists(),
        "fetched on demand only"
    );
    let (s, _, body) = http_raw(nodes[2].http_port, "GET", &url, &[auth(&tokens[2])], "").unwrap();
    if s != 200 {
        for l in nodes[2].log.lock().unwrap().iter() {
            eprintln!("{l}");
        }
    }
    assert_eq!(s, 200, "{}", &body[..body.len().min(300)]);
    assert_eq!(sha256_hex(body.as_bytes()), id, "the same bytes");
    assert!(blob_path(&company, 2, &id).exists());
    assert_eq!(nodes[2].metric("weft_blobs_fetched_total"), 1.0);
    assert!(nodes[2].metric("weft_blob_bytes_received_total") >= 2_600_000.0);
    assert!(nodes[0].metric("weft_blob_bytes_sent_total") >= 2_600_000.0);

    // Paris's copy goes bad on its disk (same length, other bytes).
    let bad = "z".repeat(content.len());
    std::fs::write(blob_path(&company, 0, &id), &bad).unwrap();
    // New York asks the uploader's site first, gets bytes that do not match the hash,
    // drops them and fetches the file from Bangalore.
    thread_arrives(&nodes[1], &tokens[1], &tid);
    let (s, _, body) = http_raw(nodes[1].http_port, "GET", &url, &[auth(&tokens[1])], "").unwrap();
    assert_eq!(s, 200);
    assert_eq!(
        sha256_hex(body.as_bytes()),
        id,
        "the good bytes, from Bangalore"
    );
    assert_eq!(nodes[1].metric("weft_blobs_corrupt_total"), 1.0);
    assert!(
        nodes[1]
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("does not match its hash") && l.contains("paris")),
        "the site that sent bad bytes is named"
    );
    // Ranges on the fetched copy.
    let (s, head, body) = http_raw(
        nodes[1].http_port,
        "GET",
        &url,
        &[auth(&tokens[1]), "Range: bytes=-5".into()],
        "",
    )
    .unwrap();
    assert_eq!(s, 206);
    assert_eq!(
        header(&head, "content-range"),
        Some("bytes 2599995-2599999/2600000")
    );
    assert_eq!(body, content[2_599_995..]);
    // The disk figures count it.
    let info = nodes[1].json("/api/v1/node");
    assert_eq!(info["files"], 1);
    assert_eq!(info["file_bytes"], 2_600_000);
    assert!(nodes[1].metric("weft_files_bytes") >= 2_600_000.0);
}

/// A private group's file goes only where its threads go: a member's site fetches it, a
/// site without a member asking for it (with its genuine node key, naming the thread) is
/// refused, and never stores it.
#[test]
fn a_private_groups_file_never_reaches_a_site_without_a_member() {
    use libp2p::futures::StreamExt;
    use libp2p::request_response::{Event as Rr, Message as RrMsg};
    use libp2p::swarm::SwarmEvent;
    use weft_node::net::{BehaviourEvent, BlobRequest, BlobResponse};

    let company = Company::new();
    let a = company.start(0);
    let b = company.start(1);
    all_connected(&[&a, &b]);
    let helene = a.login("hdupre");
    let john = b.login("jsmith");
    let p = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Comité", "visibility": "private"})),
        201,
    );
    let private = p["id"].as_str().unwrap().to_owned();
    a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{private}/members"),
        Some(serde_json::json!({"user": "jsmith"})),
        200,
    );
    let g = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Ouvert", "visibility": "public"})),
        201,
    );
    let public = g["id"].as_str().unwrap().to_owned();
    let (secret, secret_thread) = post_file(&a, &helene, &private, "budget.ods", "budget 2027");
    let (open, open_thread) = post_file(&a, &helene, &public, "menu.txt", "menu du jour");

    // New York has a member: it fetches the file.
    thread_arrives(&b, &john, &secret_thread);
    let (s, _, body) = http_raw(
        b.http_port,
        "GET",
        &format!("/api/v1/files/{secret}"),
        &[format!("Authorization: Bearer {john}")],
        "",
    )
    .unwrap();
    assert_eq!((s, body.as_str()), (200, "budget 2027"));

    // Bangalore has none. Someone with its node key asks Paris anyway.
    let seed = crate::hostile::node_seed(&company, 2);
    let ask = |doc: &str, hash: &str| BlobRequest {
        doc: weft_node::crdt::DocId::parse(doc).unwrap(),
        hash: hash.to_owned(),
        offset: 0,
        len: 1 << 20,
    };
    let requests = vec![
        ask(&secret_thread, &secret),
        // A public thread that does not carry the secret file.
        ask(&open_thread, &secret),
        // A public thread that does carry its file: served.
        ask(&open_thread, &open),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let answers = rt.block_on(async {
        let mut impostor = crate::hostile::rogue(seed);
        let peer = crate::hostile::try_connect(&mut impostor, &company, 0)
            .await
            .expect("an enrolled site is admitted");
        let ids: Vec<_> = requests
            .into_iter()
            .map(|r| impostor.behaviour_mut().blob.send_request(&peer, r))
            .collect();
        let mut answers = std::collections::HashMap::new();
        let deadline = tokio::time::sleep(std::time::Duration::from_secs(20));
        tokio::pin!(deadline);
        while answers.len() < ids.len() {
            tokio::select! {
                ev = impostor.select_next_some() => {
                    if let SwarmEvent::Behaviour(BehaviourEvent::Blob(Rr::Message {
                        message: RrMsg::Response { request_id, response }, ..
                    })) = ev {
                        answers.insert(request_id, response);
                    }
                }
                () = &mut deadline => panic!("no answers to the blob requests"),
            }
        }
        ids.iter()
            .map(|i| answers.remove(i).unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(
        answers[0],
        BlobResponse::Refused,
        "the private group's file"
    );
    assert_eq!(
        answers[1],
        BlobResponse::Refused,
        "a thread that does not carry it"
    );
    assert_eq!(
        answers[2],
        BlobResponse::Chunk {
            size: 12,
            bytes: b"menu du jour".to_vec()
        }
    );
    assert_eq!(a.metric("weft_blob_requests_refused_total"), 2.0);

    // Bangalore itself, once running and caught up, holds neither the thread nor the file.
    let c = company.start(2);
    all_connected(&[&a, &b, &c]);
    let pkumar = c.login("pkumar");
    thread_arrives(&c, &pkumar, &open_thread);
    let (s, _, _) = http_raw(
        c.http_port,
        "GET",
        &format!("/api/v1/files/{secret}"),
        &[format!("Authorization: Bearer {pkumar}")],
        "",
    )
    .unwrap();
    assert_eq!(s, 404);
    assert!(!blob_path(&company, 2, &secret).exists());
    let (s, _, body) = http_raw(
        c.http_port,
        "GET",
        &format!("/api/v1/files/{open}"),
        &[format!("Authorization: Bearer {pkumar}")],
        "",
    )
    .unwrap();
    assert_eq!((s, body.as_str()), (200, "menu du jour"));
}

/// A 1200×800 JPEG with an EXIF block that gives a GPS position and an orientation (6:
/// turned a quarter), made here.
fn photo_with_position() -> Vec<u8> {
    let img = image::RgbImage::from_fn(1200, 800, |x, y| {
        image::Rgb([(x / 5) as u8, (y / 4) as u8, ((x + y) / 8) as u8])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&img)
        .unwrap();
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(b"GPS 48.8566N 2.3522E home");
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    // After SOI and the JFIF segment.
    let at = 4 + u16::from_be_bytes([jpeg[4], jpeg[5]]) as usize;
    jpeg.splice(at..at, seg);
    jpeg
}

/// A photo loses its position before anyone sees it, gets a thumbnail, and a site that shows
/// the thread fetches the thumbnail alone until someone opens the photo.
#[test]
fn a_photo_gets_a_thumbnail_and_loses_its_position() {
    use crate::harness::http_bytes;
    let company = Company::new();
    let a = company.start(0);
    let b = company.start(1);
    all_connected(&[&a, &b]);
    let helene = a.login("hdupre");
    let john = b.login("jsmith");
    let photo = photo_with_position();
    let (s, _, body) = http_bytes(
        a.http_port,
        "POST",
        "/api/v1/files",
        &[
            format!("Authorization: Bearer {helene}"),
            "Content-Type: image/jpeg".into(),
            "X-File-Name: terrasse.jpg".into(),
        ],
        &photo,
    )
    .unwrap();
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
    let f: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let id = f["id"].as_str().unwrap().to_owned();
    assert_ne!(id, sha256_hex(&photo), "stored without its metadata");
    let thumb_url = f["thumbnail_url"].as_str().expect("a thumbnail").to_owned();
    let get = |port: u16, token: &str, url: &str| {
        http_bytes(
            port,
            "GET",
            url,
            &[format!("Authorization: Bearer {token}")],
            b"",
        )
        .unwrap()
    };
    let (s, head, stored) = get(a.http_port, &helene, f["url"].as_str().unwrap());
    assert_eq!(s, 200);
    assert_eq!(header(&head, "content-type"), Some("image/jpeg"));
    assert!(!stored.windows(4).any(|w| w == b"GPS "), "no position left");
    assert_eq!(sha256_hex(&stored), id);
    assert_eq!(
        image::load_from_memory(&stored).unwrap().to_rgb8(),
        image::load_from_memory(&photo).unwrap().to_rgb8(),
        "the same pixels"
    );
    // The thumbnail: upright (the orientation applied), at most 480 pixels a side.
    let (s, _, thumb) = get(a.http_port, &helene, &thumb_url);
    assert_eq!(s, 200);
    let t = image::load_from_memory(&thumb).unwrap();
    assert_eq!((t.width(), t.height()), (320, 480));

    // Posted in a public group: New York lists it with its thumbnail…
    let g = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Photos", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap();
    let th = a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(serde_json::json!({"title": "La terrasse", "body": "Vue", "attachments": [id]})),
        201,
    );
    let tid = th["id"].as_str().unwrap();
    thread_arrives(&b, &john, tid);
    let t = b.api(&john, "GET", &format!("/api/v1/threads/{tid}"), None, 200);
    let att = &t["root"]["attachments"][0];
    assert_eq!(att["thumbnail_url"].as_str(), Some(thumb_url.as_str()));
    // …fetches the thumbnail when it is shown, and the photo only when it is opened.
    let (s, _, got) = get(b.http_port, &john, &thumb_url);
    assert_eq!((s, got.len()), (200, thumb.len()));
    assert!(!blob_path(&company, 1, &id).exists());
    let (s, _, got) = get(b.http_port, &john, &format!("/api/v1/files/{id}"));
    assert_eq!(s, 200);
    assert_eq!(sha256_hex(&got), id);
    assert_eq!(b.metric("weft_blobs_fetched_total"), 2.0);
}

/// Through the pages alone (as the upload script does it): files uploaded with the session
/// cookie, then a thread and a reply posted with them; the thread shows the photo's
/// thumbnail, a video player, and a link to download the document.
#[test]
fn files_are_posted_and_shown_through_the_pages() {
    use crate::harness::http_bytes;
    use crate::ui::{enc, post_form, ui_login};
    let company = Company::new();
    let node = company.start(0);
    let port = node.http_port;
    let helene = ui_login(port, "hdupre");
    let upload = |name: &str, kind: &str, body: &[u8]| -> serde_json::Value {
        let (s, _, body) = http_bytes(
            port,
            "POST",
            "/api/v1/files",
            &[
                helene.clone(),
                format!("Content-Type: {kind}"),
                // As encodeURIComponent writes it.
                format!("X-File-Name: {}", enc(name).replace('+', "%20")),
            ],
            body,
        )
        .unwrap();
        assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    };
    let photo = upload("Été 2026.jpg", "image/jpeg", &photo_with_position());
    let video = upload("tuto.mp4", "video/mp4", &[0u8; 4096]);
    let doc = upload("Procédure.pdf", "application/pdf", b"%PDF-1.4 pas vraiment");
    assert_eq!(photo["name"], "Été 2026.jpg");
    let (s, group) = post_form(
        port,
        &helene,
        "/groups",
        "/groups",
        "name=Atelier&description=&visibility=public",
    );
    assert_eq!(s, 303);
    // The group page's form has the file field for the script.
    let (_, _, html) = http_raw(port, "GET", &group, std::slice::from_ref(&helene), "").unwrap();
    assert!(html.contains("data-upload") && html.contains("name=\"attachments\""));
    let ids = |v: &[&serde_json::Value]| {
        v.iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (s, thread) = post_form(
        port,
        &helene,
        &group,
        &format!("{group}/threads"),
        &format!(
            "title={}&body={}&attachments={}",
            enc("Photos de l'atelier"),
            enc("Voici"),
            enc(&ids(&[&photo, &video]))
        ),
    );
    assert_eq!(s, 303, "{thread}");
    let (s, _) = post_form(
        port,
        &helene,
        &thread,
        &format!("{thread}/reply"),
        &format!(
            "body={}&attachments={}",
            enc("La procédure"),
            enc(&ids(&[&doc]))
        ),
    );
    assert_eq!(s, 303);
    // Someone else's file cannot be slipped in.
    let claire = ui_login(port, "cmartin");
    let (s, _) = post_form(
        port,
        &claire,
        &thread,
        &format!("{thread}/reply"),
        &format!("body=x&attachments={}", ids(&[&doc])),
    );
    assert_ne!(s, 303, "another's upload is refused");
    let (_, _, html) = http_raw(port, "GET", &thread, std::slice::from_ref(&claire), "").unwrap();
    let thumb = photo["thumbnail_url"].as_str().unwrap();
    assert!(html.contains(&format!("src=\"{thumb}\"")), "{html}");
    assert!(
        html.contains(&format!(
            "<video controls preload=\"metadata\" src=\"/api/v1/files/{}\"",
            video["id"].as_str().unwrap()
        )),
        "{html}"
    );
    assert!(html.contains("download=\"Procédure.pdf\""), "{html}");
    assert_eq!(html.matches("class=\"file\"").count(), 1);
    // Claire reads the photo and the video by ranges, as a player does.
    let (s, head, body) = http_bytes(
        port,
        "GET",
        video["url"].as_str().unwrap(),
        &[claire.clone(), "Range: bytes=0-1023".into()],
        b"",
    )
    .unwrap();
    assert_eq!((s, body.len()), (206, 1024));
    assert_eq!(
        header(&head, "content-disposition").map(|d| d.starts_with("inline")),
        Some(true)
    );
}

/// A transfer broken off goes on at another site from where it stopped: New York asks the
/// uploader's site (Bangalore, here someone holding its node key) first, gets the first
/// chunk, then "missing"; Paris sends only the rest.
#[test]
fn a_transfer_broken_off_goes_on_elsewhere_from_where_it_stopped() {
    use libp2p::futures::StreamExt;
    use libp2p::request_response::{Event as Rr, Message as RrMsg};
    use libp2p::swarm::SwarmEvent;
    use weft_node::net::{BLOB_CHUNK, BehaviourEvent, BlobResponse};

    let company = Company::new();
    let a = company.start(0);
    let b = company.start(1);
    let c = company.start(2);
    all_connected(&[&a, &b, &c]);
    let (helene, john, priya) = (a.login("hdupre"), b.login("jsmith"), c.login("pkumar"));
    let g = c.api(
        &priya,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Builds", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let content: String = (0..1_500_000u32)
        .map(|i| char::from(b'a' + ((i * 13 + i / 777) % 26) as u8))
        .collect();
    let (id, tid) = post_file(&c, &priya, &gid, "build.log", &content);
    let url = format!("/api/v1/files/{id}");
    // Paris opens it (fetched from Bangalore): Paris has it now.
    thread_arrives(&a, &helene, &tid);
    let (s, _, _) = http_raw(
        a.http_port,
        "GET",
        &url,
        &[format!("Authorization: Bearer {helene}")],
        "",
    )
    .unwrap();
    assert_eq!(s, 200);
    thread_arrives(&b, &john, &tid);
    // Bangalore's node stops; someone with its key answers New York: the first chunk, then
    // "missing".
    let stored = std::fs::read(blob_path(&company, 2, &id)).unwrap();
    let _ = c.stop();
    for n in [&a, &b] {
        n.wait_until(
            std::time::Duration::from_secs(30),
            "Bangalore is gone",
            |n| n.connected_peers() == 1,
        );
    }
    let seed = crate::hostile::node_seed(&company, 2);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let impostor = {
        let done = done.clone();
        let company_ref = &company;
        let addr_peer = (
            crate::hostile::p2p_addr_of(company_ref, 1),
            crate::hostile::site_peer_of(company_ref, 1),
        );
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let mut swarm = crate::hostile::rogue(seed);
                swarm.behaviour_mut().allow.allow_peer(addr_peer.1);
                swarm.dial(addr_peer.0).unwrap();
                let mut served = Vec::new();
                let mut tick = tokio::time::interval(std::time::Duration::from_millis(50));
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    tokio::select! {
                        ev = swarm.select_next_some() => match ev {
                            SwarmEvent::ConnectionEstablished { .. } => { let _ = ready_tx.send(()); }
                            SwarmEvent::Behaviour(BehaviourEvent::Blob(Rr::Message {
                                message: RrMsg::Request { request, channel, .. }, ..
                            })) => {
                                let answer = if request.offset == 0 {
                                    let end = (request.len as usize).min(BLOB_CHUNK).min(stored.len());
                                    BlobResponse::Chunk { size: stored.len() as u64, bytes: stored[..end].to_vec() }
                                } else {
                                    BlobResponse::Missing
                                };
                                served.push(request.offset);
                                let _ = swarm.behaviour_mut().blob.send_response(channel, answer);
                            }
                            SwarmEvent::Behaviour(BehaviourEvent::Sync(Rr::Message {
                                message: RrMsg::Request { channel, .. }, ..
                            })) => {
                                let _ = swarm.behaviour_mut().sync.send_response(channel, Vec::new());
                            }
                            _ => {}
                        },
                        _ = tick.tick() => {}
                    }
                }
                served
            })
        })
    };
    ready_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the impostor connects to New York");
    b.wait_until(
        std::time::Duration::from_secs(30),
        "Bangalore's key is connected",
        |n| n.connected_peers() == 2,
    );
    let sent_before = a.metric("weft_blob_bytes_sent_total");
    let (s, _, body) = http_raw(
        b.http_port,
        "GET",
        &url,
        &[format!("Authorization: Bearer {john}")],
        "",
    )
    .unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let served = impostor.join().unwrap();
    assert_eq!(s, 200);
    assert_eq!(sha256_hex(body.as_bytes()), id, "the whole file, checked");
    assert!(served.contains(&0), "Bangalore was asked first: {served:?}");
    assert_eq!(b.metric("weft_blobs_corrupt_total"), 0.0);
    // Paris sent what Bangalore did not: not the first chunk again.
    let from_paris = a.metric("weft_blob_bytes_sent_total") - sent_before;
    assert_eq!(
        from_paris as usize,
        content.len() - BLOB_CHUNK,
        "resumed, not restarted"
    );
}
