//! Groups' document libraries (issue 17) across real nodes: a document's versions, kept and
//! restorable at another site; found by its text; filed in folders; a private group's
//! library out of reach.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Company, Node, http_bytes};

/// A one-page PDF saying `words` (Helvetica), its cross-reference table computed.
pub(crate) fn pdf_saying(words: &str) -> Vec<u8> {
    let stream = format!("BT /F1 24 Tf 72 712 Td ({words}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// Uploads `bytes` at `node` as `name`; returns the file's JSON.
pub(crate) fn upload(node: &Node, token: &str, name: &str, kind: &str, bytes: &[u8]) -> Value {
    let (s, _, body) = http_bytes(
        node.http_port,
        "POST",
        "/api/v1/files",
        &[
            format!("Authorization: Bearer {token}"),
            format!("Content-Type: {kind}"),
            format!("X-File-Name: {name}"),
        ],
        bytes,
    )
    .unwrap();
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// See [`Node::eventually`].
fn eventually(node: &Node, token: &str, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
    node.eventually(token, path, ok)
}

#[test]
fn a_library_keeps_versions_at_every_site_and_finds_documents_by_their_text() {
    let company = Company::new();
    let a = company.start(0);
    let b = company.start(1);
    for n in [&a, &b] {
        n.wait_until(Duration::from_secs(60), "connected", |n| {
            n.connected_peers() == 1
        });
    }
    let helene = a.login("hdupre");
    let john = b.login("jsmith");
    let g = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Qualité", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let v1 = upload(
        &a,
        &helene,
        "accueil.pdf",
        "application/pdf",
        &pdf_saying("Procedure accueil visiteurs"),
    );
    let d = a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/library"),
        Some(
            json!({"file": v1["id"], "title": "Accueil des visiteurs", "folder": " RH / Accueil "}),
        ),
        201,
    );
    let did = d["id"].as_str().unwrap().to_owned();
    assert_eq!(d["folder"], "RH/Accueil");
    assert_eq!(d["versions"][0]["note"], "Version 1");
    // Someone else's upload is not theirs to add.
    let other = upload(&b, &john, "x.pdf", "application/pdf", b"%PDF-1.4 x");
    a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/library"),
        Some(json!({"file": other["id"]})),
        422,
    );
    let v2 = upload(
        &a,
        &helene,
        "accueil-v2.pdf",
        "application/pdf",
        &pdf_saying("Nouvelle procedure badge temporaire"),
    );
    let d = a.api(
        &helene,
        "POST",
        &format!("/api/v1/documents/{did}/versions"),
        Some(json!({"file": v2["id"], "note": "Badges temporaires"})),
        201,
    );
    assert_eq!(d["versions"].as_array().unwrap().len(), 2);
    assert_eq!(d["current"]["id"], v2["id"]);
    // Not among the group's threads: in its library.
    let threads = a.api(
        &helene,
        "GET",
        &format!("/api/v1/groups/{gid}/threads"),
        None,
        200,
    );
    assert!(!threads.to_string().contains(&did), "{threads}");

    // New York sees the library, both versions, and opens the old one (fetched from Paris).
    let lib = eventually(&b, &john, &format!("/api/v1/groups/{gid}/library"), |l| {
        l["documents"][0]["versions"]
            .as_array()
            .is_some_and(|v| v.len() == 2)
    });
    assert_eq!(lib["folders"], json!(["RH", "RH/Accueil"]));
    let old_url = lib["documents"][0]["versions"][0]["file"]["url"]
        .as_str()
        .unwrap();
    let (s, _, bytes) = http_bytes(
        b.http_port,
        "GET",
        old_url,
        &[format!("Authorization: Bearer {john}")],
        b"",
    )
    .unwrap();
    assert_eq!(s, 200);
    assert_eq!(bytes, pdf_saying("Procedure accueil visiteurs"));
    // Found by the words inside the newest version, at New York too.
    let hits = eventually(&b, &john, "/api/v1/search?q=badge", |h| {
        !h["items"].as_array().unwrap().is_empty()
    });
    assert_eq!(hits["items"][0]["thread"], did.as_str(), "{hits}");
    // John restores version 1, and files the document elsewhere.
    let v1_post = lib["documents"][0]["versions"][0]["id"].as_str().unwrap();
    let d = b.api(
        &john,
        "POST",
        &format!("/api/v1/documents/{did}/versions/{v1_post}/restore"),
        None,
        201,
    );
    assert_eq!(d["versions"].as_array().unwrap().len(), 3);
    assert_eq!(d["current"]["id"], v1["id"]);
    assert_eq!(d["versions"][2]["note"], "Version 1 restored");
    assert_eq!(d["versions"][2]["author"], "jsmith");
    b.api(
        &john,
        "PUT",
        &format!("/api/v1/documents/{did}/folder"),
        Some(json!({"folder": "Archives/2026"})),
        200,
    );
    // Paris sees who changed what.
    let d = eventually(&a, &helene, &format!("/api/v1/documents/{did}"), |d| {
        d["folder"] == "Archives/2026" && d["versions"].as_array().is_some_and(|v| v.len() == 3)
    });
    let who: Vec<&str> = d["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["author"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["hdupre", "hdupre", "jsmith"]);

    // A private group's library: its members only.
    let p = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Direction", "visibility": "private"})),
        201,
    );
    let pid = p["id"].as_str().unwrap();
    let secret = upload(
        &a,
        &helene,
        "budget.pdf",
        "application/pdf",
        &pdf_saying("Budget confidentiel"),
    );
    a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{pid}/library"),
        Some(json!({"file": secret["id"]})),
        201,
    );
    let claire = a.login("cmartin");
    a.api(
        &claire,
        "GET",
        &format!("/api/v1/groups/{pid}/library"),
        None,
        404,
    );
    let hits = a.api(&claire, "GET", "/api/v1/search?q=confidentiel", None, 200);
    assert_eq!(hits["items"], json!([]), "{hits}");
}

/// The library through its pages alone: add a document, a new version, restore, file it.
#[test]
fn the_library_through_its_pages() {
    use crate::harness::http_raw;
    use crate::ui::{enc, post_form, ui_login};
    let company = Company::new();
    let node = company.start(0);
    let port = node.http_port;
    let helene = ui_login(port, "hdupre");
    let send = |name: &str, bytes: &[u8]| -> String {
        let (s, _, body) = http_bytes(
            port,
            "POST",
            "/api/v1/files",
            &[
                helene.clone(),
                "Content-Type: text/plain".into(),
                format!("X-File-Name: {name}"),
            ],
            bytes,
        )
        .unwrap();
        assert_eq!(s, 201);
        serde_json::from_slice::<Value>(&body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (s, group) = post_form(
        port,
        &helene,
        "/groups",
        "/groups",
        "name=Juridique&description=&visibility=public",
    );
    assert_eq!(s, 303);
    let (_, _, html) = http_raw(port, "GET", &group, std::slice::from_ref(&helene), "").unwrap();
    assert!(
        html.contains(&format!("{group}/library")),
        "the group links its library"
    );
    assert!(
        html.contains(".atom?token="),
        "and its feed, with the viewer's token"
    );
    let library = format!("{group}/library");
    let v1 = send("contrat.txt", b"Contrat type, version initiale");
    let (s, doc) = post_form(
        port,
        &helene,
        &library,
        &library,
        &format!(
            "attachments={v1}&title={}&folder={}&note=",
            enc("Contrat type"),
            enc("Modèles/Contrats")
        ),
    );
    assert_eq!(s, 303, "{doc}");
    assert!(doc.starts_with("/documents/"), "{doc}");
    // No file: refused, nothing added.
    let (s, _) = post_form(port, &helene, &library, &library, "attachments=&title=Vide");
    assert_ne!(s, 303);
    let v2 = send("contrat-v2.txt", b"Contrat type, clause de confidentialite");
    let (s, _) = post_form(
        port,
        &helene,
        &doc,
        &format!("{doc}/versions"),
        &format!("attachments={v2}&note={}", enc("Clause ajoutée")),
    );
    assert_eq!(s, 303);
    let (_, _, html) = http_raw(port, "GET", &doc, std::slice::from_ref(&helene), "").unwrap();
    assert!(
        html.contains("Clause ajoutée") && html.contains("contrat-v2.txt"),
        "{html}"
    );
    // Restore version 1 (its form is the only restore button).
    let restore = html
        .split("action=\"")
        .find(|a| a.contains("/restore/"))
        .and_then(|a| a.split('"').next())
        .unwrap()
        .to_owned();
    let (s, _) = post_form(port, &helene, &doc, &restore, "");
    assert_eq!(s, 303);
    let (s, _) = post_form(
        port,
        &helene,
        &doc,
        &format!("{doc}/folder"),
        &format!("folder={}", enc("Archives")),
    );
    assert_eq!(s, 303);
    let (_, _, html) = http_raw(port, "GET", &doc, std::slice::from_ref(&helene), "").unwrap();
    assert!(html.contains("Version 1 restored"), "{html}");
    let (_, _, html) = http_raw(port, "GET", &library, std::slice::from_ref(&helene), "").unwrap();
    assert!(
        html.contains("Contrat type") && html.contains("Archives"),
        "{html}"
    );
    // The group's thread list does not list it.
    let (_, _, html) = http_raw(port, "GET", &group, std::slice::from_ref(&helene), "").unwrap();
    assert!(
        !html.contains(&doc.replace("/documents/", "/threads/")),
        "{html}"
    );
    // French.
    let (_, _, html) = http_raw(
        port,
        "GET",
        &library,
        &[helene.clone(), "Cookie: weft_lang=fr".into()],
        "",
    )
    .unwrap();
    assert!(
        html.contains("Bibliothèque") || html.contains("Ajouter un document"),
        "{html}"
    );
}
