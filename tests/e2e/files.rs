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
