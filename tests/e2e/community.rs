//! Community management (issue 18) across real nodes: reports and the moderation queue,
//! hiding a post with a reason every site applies, official and outdated marks in search,
//! likely duplicate groups in French and English, merging.
//!
//! People (examples/directory.ldif): community managers hdupre (Paris), ejohnson (New York)
//! and srao (Bangalore); others cmartin and mroux (Paris), jsmith (New York), pkumar
//! (Bangalore).

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Company, Node, http_raw};
use crate::ui::{enc, hidden_csrf};

fn three_sites(company: &Company) -> Vec<Node> {
    let nodes: Vec<Node> = (0..3).map(|i| company.start(i)).collect();
    for n in &nodes {
        n.wait_until(Duration::from_secs(60), "all peers are connected", |n| {
            n.connected_peers() == 2
        });
    }
    nodes
}

/// A page of the UI as the holder of `token` (the API's session token is the UI's cookie).
fn page(node: &Node, token: &str, path: &str) -> (u16, String) {
    let (s, _, html) = http_raw(
        node.http_port,
        "GET",
        path,
        &[format!("Cookie: weft_session={token}")],
        "",
    )
    .unwrap();
    (s, html)
}

/// Posts a form of the UI (its token read from `from`); (status, headers, body).
fn form(node: &Node, token: &str, from: &str, action: &str, fields: &str) -> (u16, String, String) {
    let (_, html) = page(node, token, from);
    let csrf = hidden_csrf(&html);
    http_raw(
        node.http_port,
        "POST",
        action,
        &[
            format!("Cookie: weft_session={token}"),
            "Content-Type: application/x-www-form-urlencoded".into(),
        ],
        &format!("{fields}&_csrf={csrf}"),
    )
    .unwrap()
}

fn root_post(thread: &Value) -> &Value {
    &thread["root"]
}

#[test]
fn a_reported_post_is_hidden_by_its_owner_at_another_site_and_every_site_applies_it() {
    let company = Company::new();
    let n = three_sites(&company);
    let (paris, ny, blr) = (&n[0], &n[1], &n[2]);
    let john = ny.login("jsmith");
    let claire = paris.login("cmartin");
    let marc = paris.login("mroux");
    let priya = blr.login("pkumar");
    let sita = blr.login("srao");
    // John (New York) owns a public group; Claire (Paris) sells her bike in it.
    let g = ny.api(
        &john,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Running", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    paris.eventually(&claire, &format!("/api/v1/groups/{gid}"), |_| true);
    let t = paris.api(
        &claire,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Vends vélo", "body": "Vélo de course, 50 euros"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    let pid = root_post(&t)["id"].as_str().unwrap().to_owned();
    // Priya (Bangalore) reports it; one does not report one's own post, nor without a reason.
    blr.eventually(&priya, &format!("/api/v1/threads/{tid}"), |_| true);
    let receipt = blr.api(
        &priya,
        "POST",
        &format!("/api/v1/posts/{pid}/report"),
        Some(json!({"reason": "Sales are not allowed in this group"})),
        201,
    );
    assert!(receipt.get("charter").is_some(), "{receipt}");
    blr.api(
        &priya,
        "POST",
        &format!("/api/v1/posts/{pid}/report"),
        Some(json!({"reason": "   "})),
        422,
    );
    paris.api(
        &claire,
        "POST",
        &format!("/api/v1/posts/{pid}/report"),
        Some(json!({"reason": "moi"})),
        422,
    );
    let mine = blr.api(&priya, "GET", &format!("/api/v1/threads/{tid}"), None, 200);
    assert_eq!(root_post(&mine)["reported"], true);
    // The report reaches New York: John's queue holds it, with Priya's reason.
    let q = ny.eventually(&john, "/api/v1/moderation", |q| {
        q["items"].as_array().is_some_and(|i| !i.is_empty())
    });
    assert_eq!(q["items"][0]["post"]["id"], pid.as_str());
    assert_eq!(q["items"][0]["group_name"], "Running");
    assert_eq!(q["items"][0]["reports"][0]["by"], "pkumar");
    assert_eq!(
        q["items"][0]["reports"][0]["reason"],
        "Sales are not allowed in this group"
    );
    // The queue page shows it too.
    let (s, html) = page(ny, &john, "/moderation");
    assert_eq!(s, 200);
    assert!(
        html.contains("Sales are not allowed in this group"),
        "{html}"
    );
    // Marc (Paris) moderates nothing: an empty queue, and hiding is refused.
    let q = paris.api(&marc, "GET", "/api/v1/moderation", None, 200);
    assert_eq!(q["items"], json!([]));
    paris.api(
        &marc,
        "PUT",
        &format!("/api/v1/posts/{pid}/hidden"),
        Some(json!({"hidden": true, "reason": "non"})),
        403,
    );
    // John hides it, saying why; the report is closed.
    ny.api(
        &john,
        "PUT",
        &format!("/api/v1/posts/{pid}/hidden"),
        Some(json!({"hidden": true, "reason": "Petites annonces : utilisez le groupe dédié"})),
        204,
    );
    let q = ny.api(&john, "GET", "/api/v1/moderation", None, 200);
    assert_eq!(q["items"], json!([]));
    // Every site applies it: Claire, its author, is told why; Marc and Priya only that it is
    // hidden, its text withheld.
    let seen = paris.eventually(&claire, &format!("/api/v1/threads/{tid}"), |t| {
        root_post(t)["hidden"] == true
    });
    assert_eq!(
        root_post(&seen)["hidden_reason"],
        "Petites annonces : utilisez le groupe dédié"
    );
    for (node, token) in [(paris, &marc), (blr, &priya)] {
        let t = node.eventually(token, &format!("/api/v1/threads/{tid}"), |t| {
            root_post(t)["hidden"] == true
        });
        assert!(root_post(&t)["hidden_reason"].is_null(), "{t}");
        assert_eq!(root_post(&t)["body"], "");
    }
    // Claire's page says why; Marc's does not show the post.
    let (_, html) = page(paris, &claire, &format!("/threads/{tid}"));
    assert!(
        html.contains("Petites annonces : utilisez le groupe dédié"),
        "{html}"
    );
    let (_, html) = page(paris, &marc, &format!("/threads/{tid}"));
    assert!(!html.contains("50 euros"));
    assert!(html.contains("hidden by a moderator"), "{html}");
    // Sita, a community manager at Bangalore (not a member), shows it again; a new report
    // after that is open again, and the reporter withdraws it through the page.
    blr.api(
        &sita,
        "PUT",
        &format!("/api/v1/posts/{pid}/hidden"),
        Some(json!({"hidden": false, "reason": "Toléré cette fois"})),
        204,
    );
    paris.eventually(&marc, &format!("/api/v1/threads/{tid}"), |t| {
        root_post(t)["hidden"] == false && root_post(t)["body"] == "Vélo de course, 50 euros"
    });
    let (s, _, _) = form(
        paris,
        &marc,
        &format!("/threads/{tid}"),
        &format!("/threads/{tid}/report/{}", pid.split_once('~').unwrap().1),
        &format!("reason={}", enc("Encore une vente")),
    );
    assert_eq!(s, 303);
    let q = ny.eventually(&john, "/api/v1/moderation", |q| {
        q["items"][0]["reports"][0]["by"] == "mroux"
    });
    assert_eq!(q["items"][0]["reports"].as_array().unwrap().len(), 1);
    paris.api(
        &marc,
        "DELETE",
        &format!("/api/v1/posts/{pid}/report"),
        None,
        204,
    );
    ny.eventually(&john, "/api/v1/moderation", |q| q["items"] == json!([]));
}

#[test]
fn marks_put_official_threads_first_and_outdated_ones_last_in_search_at_every_site() {
    let company = Company::new();
    let n = three_sites(&company);
    let (paris, ny, blr) = (&n[0], &n[1], &n[2]);
    let helene = paris.login("hdupre");
    let emily = ny.login("ejohnson");
    let john = ny.login("jsmith");
    let priya = blr.login("pkumar");
    let g = paris.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Procédures", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    // Oldest first: the one to be marked official; the newest will be outdated (recency
    // alone would put it first).
    let mut ids = Vec::new();
    for (title, body) in [
        (
            "Expenses policy 2026",
            "How to file expenses: the current rules.",
        ),
        ("Expenses how-to", "Expenses: a few tips."),
        (
            "Expenses policy 2019",
            "Expenses must be filed on paper forms.",
        ),
    ] {
        let t = paris.api(
            &helene,
            "POST",
            &format!("/api/v1/groups/{gid}/threads"),
            Some(json!({"title": title, "body": body})),
            201,
        );
        ids.push(t["id"].as_str().unwrap().to_owned());
        std::thread::sleep(Duration::from_millis(20));
    }
    let order = |v: &Value| -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for h in v["items"].as_array().unwrap() {
            let t = h["thread"].as_str().unwrap_or_default().to_owned();
            if !seen.contains(&t) {
                seen.push(t);
            }
        }
        seen
    };
    blr.eventually(&priya, "/api/v1/search?q=expenses&kind=post", |v| {
        order(v).len() == 3
    });
    // John is no community manager; Emily (New York) is.
    ny.eventually(&john, &format!("/api/v1/threads/{}", ids[0]), |_| true);
    ny.api(
        &john,
        "PUT",
        &format!("/api/v1/threads/{}/mark", ids[0]),
        Some(json!({"mark": "official"})),
        403,
    );
    ny.api(
        &emily,
        "PUT",
        &format!("/api/v1/threads/{}/mark", ids[0]),
        Some(json!({"mark": "important"})),
        422,
    );
    ny.eventually(&emily, &format!("/api/v1/threads/{}", ids[2]), |_| true);
    for (i, mark) in [(0, "official"), (2, "outdated")] {
        ny.api(
            &emily,
            "PUT",
            &format!("/api/v1/threads/{}/mark", ids[i]),
            Some(json!({"mark": mark})),
            204,
        );
    }
    // At Bangalore: official first, outdated last, each hit saying so.
    let hits = blr.eventually(&priya, "/api/v1/search?q=expenses&kind=post", |v| {
        let items = v["items"].as_array().unwrap();
        items.len() == 3 && items[0]["mark"] == "official" && items[2]["mark"] == "outdated"
    });
    assert_eq!(
        order(&hits),
        [ids[0].clone(), ids[1].clone(), ids[2].clone()]
    );
    let items = hits["items"].as_array().unwrap();
    assert_eq!(items.first().unwrap()["mark"], "official");
    assert_eq!(items.last().unwrap()["mark"], "outdated");
    assert!(items[1]["mark"].is_null());
    let t = blr.api(
        &priya,
        "GET",
        &format!("/api/v1/threads/{}", ids[0]),
        None,
        200,
    );
    assert_eq!(t["mark"], "official");
    let (_, html) = page(blr, &priya, "/search?q=expenses");
    assert!(html.contains("badge official"), "{html}");
    // Cleared: no hit says it any longer.
    ny.api(
        &emily,
        "PUT",
        &format!("/api/v1/threads/{}/mark", ids[2]),
        Some(json!({"mark": null})),
        204,
    );
    ny.api(
        &emily,
        "PUT",
        &format!("/api/v1/threads/{}/mark", ids[0]),
        Some(json!({"mark": null})),
        204,
    );
    blr.eventually(&priya, "/api/v1/search?q=expenses&kind=post", |v| {
        order(v).len() == 3
            && v["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|h| h["mark"].is_null())
    });
}

#[test]
fn duplicate_groups_are_found_across_sites_in_french_and_english_and_merged() {
    let company = Company::new();
    let n = three_sites(&company);
    let (paris, ny, blr) = (&n[0], &n[1], &n[2]);
    let claire = paris.login("cmartin");
    let john = ny.login("jsmith");
    let emily = ny.login("ejohnson");
    let priya = blr.login("pkumar");
    let photo = paris.api(
        &claire,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Photo club", "description": "Argentique et numérique", "visibility": "public"})),
        201,
    );
    let photo_id = photo["id"].as_str().unwrap().to_owned();
    paris.api(
        &claire,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Running club", "visibility": "public"})),
        201,
    );
    // At New York, in French and in English, the Paris group is found; a running club is
    // not a photo club.
    let similar = |name: &str| format!("/api/v1/groups/similar?name={}", enc(name));
    for name in [
        "Club photo",
        "Club de photos",
        "Photo clubs",
        "Les clubs photo",
    ] {
        let found = ny.eventually(&john, &similar(name), |v| {
            v["items"].as_array().is_some_and(|i| !i.is_empty())
        });
        let names: Vec<&str> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Photo club"], "{name}");
        assert_eq!(found["items"][0]["home_site"], "paris");
    }
    let none = ny.api(&john, "GET", &similar("Club de lecture"), None, 200);
    assert_eq!(none["items"], json!([]));
    // A description holding the new name's words counts too.
    let by_text = ny.api(&john, "GET", &similar("Argentique numérique"), None, 200);
    assert_eq!(by_text["items"][0]["id"], photo_id.as_str());
    // Through the page: the form shows the Paris group first; "create anyway" creates it.
    let (s, _, html) = form(
        ny,
        &john,
        "/groups",
        "/groups",
        "name=Club+photo&description=&visibility=public",
    );
    assert_eq!(s, 200);
    assert!(html.contains("Photo club"), "{html}");
    assert!(html.contains("Create my group anyway"), "{html}");
    assert!(html.contains(&format!("/groups/{photo_id}/join")), "{html}");
    let (s, head, _) = form(
        ny,
        &john,
        "/groups",
        "/groups",
        "name=Club+photo&description=&visibility=public&confirm=1",
    );
    assert_eq!(s, 303, "{head}");
    let club_id = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or(l.strip_prefix("Location: "))
        })
        .unwrap()
        .trim()
        .trim_start_matches("/groups/")
        .to_owned();
    // Emily, a community manager, sees the pair (the older group first); John may not.
    ny.api(&john, "GET", "/api/v1/groups/duplicates", None, 403);
    let pairs = ny.eventually(&emily, "/api/v1/groups/duplicates", |v| {
        v["items"].as_array().is_some_and(|i| i.len() == 1)
    });
    assert_eq!(pairs["items"][0]["group"]["id"], photo_id.as_str());
    assert_eq!(pairs["items"][0]["duplicate"]["id"], club_id.as_str());
    // Merging: community managers only; then every site's page points to the Paris group.
    ny.api(
        &john,
        "PUT",
        &format!("/api/v1/groups/{club_id}/merged_into"),
        Some(json!({"into": photo_id})),
        403,
    );
    ny.api(
        &emily,
        "PUT",
        &format!("/api/v1/groups/{club_id}/merged_into"),
        Some(json!({"into": club_id})),
        422,
    );
    ny.api(
        &emily,
        "PUT",
        &format!("/api/v1/groups/{club_id}/merged_into"),
        Some(json!({"into": photo_id})),
        204,
    );
    let g = blr.eventually(&priya, &format!("/api/v1/groups/{club_id}"), |g| {
        g["merged_into"] == photo_id.as_str()
    });
    assert_eq!(g["name"], "Club photo");
    let (_, html) = page(blr, &priya, &format!("/groups/{club_id}"));
    assert!(
        html.contains(&format!("href=\"/groups/{photo_id}\"")),
        "{html}"
    );
    assert!(html.contains("merged into another"), "{html}");
    // Merged groups are no longer suggested nor listed as duplicates.
    let found = ny.api(&john, "GET", &similar("Club photo"), None, 200);
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let pairs = ny.api(&emily, "GET", "/api/v1/groups/duplicates", None, 200);
    assert_eq!(pairs["items"], json!([]));
}

#[test]
fn a_private_groups_card_is_visible_at_a_site_without_members_while_its_threads_are_not() {
    let company = Company::new();
    let n = three_sites(&company);
    let (paris, ny, blr) = (&n[0], &n[1], &n[2]);
    let claire = paris.login("cmartin");
    let marc = paris.login("mroux");
    let john = ny.login("jsmith");
    let priya = blr.login("pkumar");
    // Claire (Paris) makes a private group; John (New York) is a member; Bangalore has none.
    let g = paris.api(
        &claire,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Works council", "description": "Préparation du CSE", "visibility": "private"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    paris.api(
        &claire,
        "POST",
        &format!("/api/v1/groups/{gid}/members"),
        Some(json!({"user": "jsmith"})),
        200,
    );
    let t = paris.api(
        &claire,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Salary talks", "body": "Confidential agenda"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    ny.eventually(&john, &format!("/api/v1/threads/{tid}"), |_| true);
    // Bangalore lists the group by its card: name, description, owners, member count.
    let card = blr.eventually(&priya, &format!("/api/v1/groups/{gid}"), |g| {
        g["member_count"] == 2
    });
    assert_eq!(card["card"], true, "{card}");
    assert_eq!(card["name"], "Works council");
    assert_eq!(card["description"], "Préparation du CSE");
    assert_eq!(card["owners"], json!(["cmartin"]));
    assert_eq!(card["visibility"], "private");
    let list = blr.api(&priya, "GET", "/api/v1/groups?q=works", None, 200);
    assert!(list.to_string().contains(&gid), "{list}");
    // Its threads are not: not served, not searchable, not even held.
    blr.api(&priya, "GET", &format!("/api/v1/threads/{tid}"), None, 404);
    blr.api(
        &priya,
        "GET",
        &format!("/api/v1/groups/{gid}/threads"),
        None,
        404,
    );
    let hits = blr.api(&priya, "GET", "/api/v1/search?q=confidential", None, 200);
    assert_eq!(hits["items"], json!([]));
    let (_, html) = page(blr, &priya, &format!("/groups/{gid}"));
    assert!(
        html.contains("Préparation du CSE") && html.contains("Ask to join"),
        "{html}"
    );
    assert!(!html.contains("Salary talks"));
    // Priya asks to join on the card; Claire (an owner, at Paris) is told and accepts.
    let asked = blr.api(
        &priya,
        "POST",
        &format!("/api/v1/groups/{gid}/members"),
        Some(json!({"user": "pkumar"})),
        202,
    );
    assert_eq!(asked["status"], "requested");
    paris.eventually(&claire, "/api/v1/notifications", |n| {
        n["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "join_request" && i["by"] == "pkumar")
    });
    let (_, html) = page(paris, &claire, &format!("/groups/{gid}"));
    assert!(
        html.contains(&format!("/groups/{gid}/requests/pkumar/approve")),
        "{html}"
    );
    // Marc, no owner, may not accept.
    paris.api(
        &marc,
        "POST",
        &format!("/api/v1/groups/{gid}/members"),
        Some(json!({"user": "pkumar"})),
        403,
    );
    paris.api(
        &claire,
        "POST",
        &format!("/api/v1/groups/{gid}/members"),
        Some(json!({"user": "pkumar"})),
        200,
    );
    // The group and its thread now travel to Bangalore.
    let t = blr.eventually(&priya, &format!("/api/v1/threads/{tid}"), |_| true);
    assert_eq!(t["root"]["body"], "Confidential agenda");
    let g = blr.api(&priya, "GET", &format!("/api/v1/groups/{gid}"), None, 200);
    assert_eq!(g["card"], false);
    assert_eq!(g["is_member"], true);
    // A co-owner: John, by Claire; not by Marc.
    paris.api(
        &marc,
        "PUT",
        &format!("/api/v1/groups/{gid}/owners/jsmith"),
        None,
        403,
    );
    paris.api(
        &claire,
        "PUT",
        &format!("/api/v1/groups/{gid}/owners/jsmith"),
        None,
        204,
    );
    ny.eventually(&john, &format!("/api/v1/groups/{gid}"), |g| {
        g["owners"].as_array().is_some_and(|o| o.len() == 2)
    });
}

#[test]
fn a_public_group_made_private_stops_at_the_sites_without_members() {
    let company = Company::new();
    let n = three_sites(&company);
    let (paris, ny, blr) = (&n[0], &n[1], &n[2]);
    let claire = paris.login("cmartin");
    let john = ny.login("jsmith");
    let priya = blr.login("pkumar");
    let g = paris.api(
        &claire,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Open kitchen", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    ny.eventually(&john, &format!("/api/v1/groups/{gid}"), |_| true);
    ny.api(
        &john,
        "POST",
        &format!("/api/v1/groups/{gid}/members"),
        Some(json!({"user": "jsmith"})),
        200,
    );
    let t = paris.api(
        &claire,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Menu", "body": "Lasagne on Friday"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    blr.eventually(&priya, &format!("/api/v1/threads/{tid}"), |_| true);
    // Only an owner changes it.
    ny.api(
        &john,
        "PATCH",
        &format!("/api/v1/groups/{gid}"),
        Some(json!({"visibility": "private"})),
        403,
    );
    let g = paris.api(
        &claire,
        "PATCH",
        &format!("/api/v1/groups/{gid}"),
        Some(json!({"visibility": "private"})),
        200,
    );
    assert_eq!(g["visibility"], "private");
    // Bangalore learns it (it held the group just before the change): the group is listed
    // there, private, its threads are no longer shown.
    let listed = blr.eventually(&priya, &format!("/api/v1/groups/{gid}"), |g| {
        g["visibility"] == "private"
    });
    assert_eq!(listed["is_member"], false);
    blr.api(&priya, "GET", &format!("/api/v1/threads/{tid}"), None, 404);
    // New York, with a member, still reads; what is written now never reaches Bangalore.
    let t2 = paris.api(
        &claire,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Members only", "body": "Secret recipe"})),
        201,
    );
    let t2 = t2["id"].as_str().unwrap().to_owned();
    ny.eventually(&john, &format!("/api/v1/threads/{t2}"), |_| true);
    let rounds = blr.metric("weft_sync_rounds_total");
    blr.wait_until(Duration::from_secs(60), "two catch-up rounds", |n| {
        n.metric("weft_sync_rounds_total") >= rounds + 2.0
    });
    blr.api(&priya, "GET", &format!("/api/v1/threads/{t2}"), None, 404);
    let hits = blr.api(&priya, "GET", "/api/v1/search?q=recipe", None, 200);
    assert_eq!(hits["items"], json!([]));
    // The company-wide group stays public (even for its owner, a community manager), and is
    // merged into nothing.
    let groups = paris.api(&claire, "GET", "/api/v1/groups", None, 200);
    let all = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "All company")
        .unwrap()
        .clone();
    let all_id = all["id"].as_str().unwrap().to_owned();
    let owner = all["owners"][0].as_str().unwrap();
    let (node, home) = [(paris, "hdupre"), (ny, "ejohnson"), (blr, "srao")]
        .into_iter()
        .find(|(_, cm)| *cm == owner)
        .unwrap_or_else(|| panic!("All company's owner {owner}"));
    let cm = node.login(home);
    node.api(
        &cm,
        "PATCH",
        &format!("/api/v1/groups/{all_id}"),
        Some(json!({"visibility": "private"})),
        422,
    );
    node.api(
        &cm,
        "PUT",
        &format!("/api/v1/groups/{all_id}/merged_into"),
        Some(json!({"into": gid})),
        422,
    );
    // Made public again, it reaches Bangalore again, threads and all.
    paris.api(
        &claire,
        "PATCH",
        &format!("/api/v1/groups/{gid}"),
        Some(json!({"visibility": "public"})),
        200,
    );
    blr.eventually(&priya, &format!("/api/v1/threads/{t2}"), |_| true);
}

#[test]
fn analytics_add_up_a_scripted_week_at_three_sites() {
    let company = Company::new();
    let n = three_sites(&company);
    let (paris, ny, blr) = (&n[0], &n[1], &n[2]);
    // Who logs in this week (active): three at Paris, two at New York and at Bangalore.
    let helene = paris.login("hdupre");
    let claire = paris.login("cmartin");
    let marc = paris.login("mroux");
    let john = ny.login("jsmith");
    let emily = ny.login("ejohnson");
    let priya = blr.login("pkumar");
    let sita = blr.login("srao");
    // Claire starts a thread (contributing); John replies and Priya reacts (participating);
    // Sita starts a poll (contributing) and Marc votes in it (participating).
    let g = paris.api(
        &claire,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Photo club", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let t = paris.api(
        &claire,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Sortie", "body": "Samedi, #argentique"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    let root = t["root"]["id"].as_str().unwrap().to_owned();
    ny.eventually(&john, &format!("/api/v1/threads/{tid}"), |_| true);
    ny.api(
        &john,
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(json!({"body": "I'm in"})),
        201,
    );
    blr.eventually(&priya, &format!("/api/v1/threads/{tid}"), |_| true);
    blr.api(
        &priya,
        "PUT",
        &format!("/api/v1/posts/{root}/reactions/like"),
        None,
        204,
    );
    blr.eventually(&sita, &format!("/api/v1/groups/{gid}"), |_| true);
    let poll = blr.api(
        &sita,
        "POST",
        &format!("/api/v1/groups/{gid}/polls"),
        Some(json!({"question": "Which day?", "options": ["Sat", "Sun"]})),
        201,
    );
    let poll_id = poll["root"]["poll"]["id"].as_str().unwrap().to_owned();
    paris.eventually(&marc, &format!("/api/v1/polls/{poll_id}"), |_| true);
    paris.api(
        &marc,
        "PUT",
        &format!("/api/v1/polls/{poll_id}/vote"),
        Some(json!({"options": ["1"]})),
        200,
    );
    // Claire edits her post: an edit is no participation (Paris stays at one).
    paris.api(
        &claire,
        "PATCH",
        &format!("/api/v1/posts/{root}"),
        Some(json!({"body": "Samedi 10 h, #argentique"})),
        200,
    );
    // Each site's community manager publishes its figures (the node does it every hour);
    // John may not.
    for (node, cm) in [(paris, &helene), (ny, &emily), (blr, &sita)] {
        node.api(cm, "POST", "/api/v1/analytics/publish", None, 204);
    }
    ny.api(&john, "POST", "/api/v1/analytics/publish", None, 403);
    ny.api(&john, "GET", "/api/v1/analytics", None, 403);
    // Paris adds up the three sites' documents.
    let a = paris.eventually(&helene, "/api/v1/analytics?weeks=1", |a| {
        a["sites"].as_array().is_some_and(|s| s.len() == 3)
    });
    let site = |id: &str| -> Value {
        a["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["site"] == id)
            .unwrap()["weeks"][0]
            .clone()
    };
    let figures = |v: &Value| {
        (
            v["registered"].as_u64().unwrap(),
            v["active"].as_u64().unwrap(),
            v["participating"].as_u64().unwrap(),
            v["contributing"].as_u64().unwrap(),
        )
    };
    assert_eq!(figures(&site("paris")), (3, 3, 1, 1), "{a:#}");
    assert_eq!(figures(&site("new-york")), (2, 2, 1, 0), "{a:#}");
    assert_eq!(figures(&site("bangalore")), (2, 2, 1, 1), "{a:#}");
    assert_eq!(figures(&a["company"][0]), (7, 7, 3, 2), "{a:#}");
    let employees: u64 = ["paris", "new-york", "bangalore"]
        .iter()
        .map(|s| site(s)["employees"].as_u64().unwrap())
        .sum();
    assert_eq!(a["company"][0]["employees"].as_u64().unwrap(), employees);
    assert!(employees > 7);
    // The group: three participating (one per site), two contributing.
    let photo = a["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == gid.as_str())
        .unwrap();
    assert_eq!(photo["name"], "Photo club");
    assert_eq!(photo["weeks"][0], json!([3, 2]));
    assert_eq!(a["topics"][0], json!(["argentique", 1]));
    // The same at Bangalore, and as CSV and a page.
    let b = blr.eventually(&sita, "/api/v1/analytics?weeks=1", |a| {
        a["sites"].as_array().is_some_and(|s| s.len() == 3)
    });
    assert_eq!(figures(&b["company"][0]), (7, 7, 3, 2));
    let (s, _, csv) = http_raw(
        paris.http_port,
        "GET",
        "/api/v1/analytics.csv?weeks=1",
        &[format!("Authorization: Bearer {helene}")],
        "",
    )
    .unwrap();
    assert_eq!(s, 200);
    let week = a["weeks"][0].as_str().unwrap();
    assert!(
        csv.contains(&format!("{week},company,,{employees},7,7,3,2")),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("{week},group,Photo club,,,,3,2")),
        "{csv}"
    );
    let (s, html) = page(paris, &helene, "/analytics");
    assert_eq!(s, 200);
    assert!(
        html.contains("<svg") && html.contains("bangalore"),
        "{html}"
    );
    let (s, _) = page(paris, &claire, "/analytics");
    assert_eq!(s, 404);
    // Publishing again without anything new changes nothing; something new updates it.
    paris.api(
        &claire,
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(json!({"body": "See you #argentique"})),
        201,
    );
    paris.api(&helene, "POST", "/api/v1/analytics/publish", None, 204);
    let a = blr.eventually(&sita, "/api/v1/analytics?weeks=1", |a| {
        a["topics"][0] == json!(["argentique", 2])
    });
    assert_eq!(figures(&a["company"][0]), (7, 7, 4, 2));
}
