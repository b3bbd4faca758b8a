//! The operator commands, run as a person would: the real binary, real files.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn weft(dir: &Path, args: &[&str]) -> Output {
    Command::new(WEFT)
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run weft")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = weft(dir, args);
    assert!(
        out.status.success(),
        "weft {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let out = weft(dir, args);
    assert!(!out.status.success(), "weft {args:?} should have failed");
    String::from_utf8(out.stderr).unwrap()
}

fn sample_ldif() -> PathBuf {
    repo().join("examples/directory.ldif")
}

/// The README's walk-through, pasted into a shell verbatim.
#[test]
fn readme_walkthrough_runs_verbatim() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("<!-- walkthrough")
        .expect("README has a walkthrough marker");
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("a sh block after the marker") + 6;
    let close = rest[open..].find("```").unwrap() + open;
    let script = &rest[open..close];

    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("examples")).unwrap();
    fs::copy(sample_ldif(), tmp.path().join("examples/directory.ldif")).unwrap();
    let bin_dir = Path::new(WEFT).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(tmp.path())
        .env("PATH", path)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "walkthrough failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What `directory show` printed at the end.
    assert!(
        stdout.contains("Directory of Example Corp, version 2"),
        "{stdout}"
    );
    assert!(stdout.contains("verified against root"), "{stdout}");
    assert!(!stdout.contains("not enrolled"), "{stdout}");
    for site in ["paris", "new-york", "bangalore"] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(site))
            .unwrap_or_else(|| panic!("no line for {site} in {stdout}"));
        assert!(line.contains("node "), "{line}");
    }
    assert!(
        stdout.contains("Employees (50: 50 active, 0 left)"),
        "{stdout}"
    );
    assert!(stdout.contains("Hélène Dupré"), "{stdout}");

    let admin = tmp.path().join("weft-admin");
    let mode = |p: &str| fs::metadata(admin.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("authority/authority.key"), 0o600);
    assert_eq!(mode("sites/paris/node.key"), 0o600);
    assert!(admin.join("paris.site-cert").exists());
}

#[test]
fn authority_init_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    ok(tmp.path(), &["authority", "init", "--out", "auth"]);
    let before = fs::read(tmp.path().join("auth/authority.key")).unwrap();
    let err = fails(tmp.path(), &["authority", "init", "--out", "auth"]);
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(
        fs::read(tmp.path().join("auth/authority.key")).unwrap(),
        before
    );
}

#[test]
fn secret_keys_are_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(tmp.path(), &["authority", "init", "--out", "auth"]);
    let key_file = fs::read_to_string(tmp.path().join("auth/authority.key")).unwrap();
    let secret_hex = key_file.split_whitespace().nth(1).unwrap();
    assert!(!out.contains(secret_hex));
    let out = ok(
        tmp.path(),
        &["site", "enroll", "--site", "paris", "--out", "s"],
    );
    let node_file = fs::read_to_string(tmp.path().join("s/node.key")).unwrap();
    assert!(!out.contains(node_file.split_whitespace().nth(1).unwrap()));
}

#[test]
fn a_bad_ldif_line_is_named_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let ldif = sample_ldif();
    ok(
        tmp.path(),
        &["directory", "import", "--ldif", ldif.to_str().unwrap()],
    );
    let draft = fs::read(tmp.path().join("directory.draft.json")).unwrap();

    let mut broken = fs::read_to_string(&ldif).unwrap();
    broken.push_str("\ndn: uid=zz,ou=people,dc=example,dc=com\nuid: zz\nthis line is broken\n");
    let bad_line = broken.lines().count();
    fs::write(tmp.path().join("broken.ldif"), broken).unwrap();
    let err = fails(
        tmp.path(),
        &["directory", "import", "--ldif", "broken.ldif"],
    );
    assert!(err.contains(&format!("line {bad_line}")), "{err}");
    assert_eq!(
        fs::read(tmp.path().join("directory.draft.json")).unwrap(),
        draft
    );

    // Without any draft yet, a failed import creates none.
    let fresh = tempfile::tempdir().unwrap();
    fs::copy(tmp.path().join("broken.ldif"), fresh.path().join("b.ldif")).unwrap();
    fails(fresh.path(), &["directory", "import", "--ldif", "b.ldif"]);
    assert!(!fresh.path().join("directory.draft.json").exists());
}

#[test]
fn people_who_leave_are_marked_and_versions_go_up() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["authority", "init", "--out", "auth"]);
    fs::write(
        d.join("people.csv"),
        "id,display_name,email,site,country,roles\nana,Ana Lima,ana@x.com,Paris,FR,community_manager\nbo,Bo Chen,bo@x.com,New York,US,\n",
    )
    .unwrap();
    ok(d, &["directory", "import", "--csv", "people.csv"]);
    let out = ok(d, &["directory", "publish", "--authority", "auth"]);
    assert!(out.contains("version 1"), "{out}");

    fs::write(
        d.join("people.csv"),
        "id,display_name,email,site\nana,Ana Lima,ana@x.com,Paris\n",
    )
    .unwrap();
    let out = ok(d, &["directory", "import", "--csv", "people.csv"]);
    assert!(out.contains("marked as left: bo"), "{out}");
    let out = ok(d, &["directory", "publish", "--authority", "auth"]);
    assert!(out.contains("version 2"), "{out}");
    let show = ok(d, &["directory", "show"]);
    assert!(show.contains("version 2"), "{show}");
    assert!(show.contains("(left)"), "{show}");
    assert!(show.contains("Employees (2: 1 active, 1 left)"), "{show}");
}

#[test]
fn a_tampered_signed_directory_is_refused_by_show() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["authority", "init", "--out", "auth"]);
    ok(
        d,
        &[
            "directory",
            "import",
            "--ldif",
            sample_ldif().to_str().unwrap(),
        ],
    );
    ok(d, &["directory", "publish", "--authority", "auth"]);
    let mut bytes = fs::read(d.join("directory.signed")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(d.join("directory.signed"), bytes).unwrap();
    let err = fails(d, &["directory", "show"]);
    assert!(err.contains("signature does not verify"), "{err}");

    // Another authority's root is not trusted either.
    ok(d, &["authority", "init", "--out", "other"]);
    ok(
        d,
        &[
            "directory",
            "publish",
            "--authority",
            "other",
            "--out",
            "x.signed",
        ],
    );
    let err = fails(
        d,
        &[
            "directory",
            "show",
            "--file",
            "x.signed",
            "--trust",
            "auth/authority.pub",
        ],
    );
    assert!(err.contains("not trusted"), "{err}");
}

#[test]
fn signing_an_unknown_site_or_a_forged_request_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["authority", "init", "--out", "auth"]);
    ok(
        d,
        &[
            "directory",
            "import",
            "--ldif",
            sample_ldif().to_str().unwrap(),
        ],
    );
    ok(d, &["site", "enroll", "--site", "tokyo", "--out", "tokyo"]);
    let err = fails(
        d,
        &[
            "authority",
            "sign-site",
            "--authority",
            "auth",
            "--request",
            "tokyo/enroll-request.txt",
        ],
    );
    assert!(
        err.contains("\"tokyo\" is not in the draft directory"),
        "{err}"
    );

    ok(d, &["site", "enroll", "--site", "paris", "--out", "paris"]);
    let req = fs::read_to_string(d.join("paris/enroll-request.txt")).unwrap();
    // Change one character of the base64 body: the proof of possession no longer verifies.
    let mut chars: Vec<char> = req.trim().chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let forged: String = chars.into_iter().collect();
    let err = fails(
        d,
        &[
            "authority",
            "sign-site",
            "--authority",
            "auth",
            "--request",
            &forged,
        ],
    );
    assert!(err.contains("does not verify"), "{err}");
    let draft = fs::read_to_string(d.join("directory.draft.json")).unwrap();
    assert!(
        !draft.contains("\"node_key\": \""),
        "draft changed: {draft}"
    );
}

#[test]
fn cross_signed_subsidiary_publishes_a_trusted_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["authority", "init", "--out", "parent"]);
    ok(d, &["authority", "init", "--out", "india"]);
    ok(
        d,
        &[
            "authority",
            "cross-sign",
            "--authority",
            "parent",
            "--subsidiary",
            "india/authority.pub",
            "--name",
            "Example India",
            "--out",
            "india.cross-cert",
        ],
    );
    ok(
        d,
        &[
            "directory",
            "import",
            "--ldif",
            sample_ldif().to_str().unwrap(),
        ],
    );
    ok(
        d,
        &[
            "directory",
            "publish",
            "--authority",
            "india",
            "--chain",
            "india.cross-cert",
        ],
    );
    let show = ok(d, &["directory", "show", "--trust", "parent/authority.pub"]);
    assert!(show.contains("vouched for as \"Example India\""), "{show}");
}

#[test]
fn every_command_has_help() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["authority", "init", "--help"],
        vec!["authority", "sign-site", "--help"],
        vec!["authority", "cross-sign", "--help"],
        vec!["directory", "import", "--help"],
        vec!["directory", "publish", "--help"],
        vec!["directory", "show", "--help"],
        vec!["site", "enroll", "--help"],
        vec!["demo", "--help"],
    ] {
        let out = ok(tmp.path(), &args);
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
}

/// `weft bench company` writes a small generated company with its figures and a progress
/// line, refuses a folder that is not empty, and `weft run` serves what it saved: a bench
/// login sees a feed of the generated threads.
#[test]
fn a_generated_company_is_saved_and_served() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("co");
    let out = weft(
        tmp.path(),
        &[
            "bench", "company", "--people", "300", "--sites", "4", "--groups", "12", "--posts",
            "400", "--days", "20", "--out", "co",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("100%") && stderr.contains("changes,"),
        "{stderr}"
    );
    let figures: serde_json::Value =
        serde_json::from_slice(&fs::read(out_dir.join("company.json")).unwrap()).unwrap();
    assert_eq!(figures["posts"], 400);
    assert!(figures["changes"].as_u64().unwrap() > 400 + 12);
    assert!(figures["signed_bytes"].as_u64().unwrap() > 100_000);
    let site = figures["site"].as_str().unwrap().to_owned();
    // Every site's key is there; only the generating site has a store.
    assert_eq!(fs::read_dir(out_dir.join("sites")).unwrap().count(), 4);
    assert!(
        out_dir
            .join("sites")
            .join(&site)
            .join("data/store")
            .is_dir()
    );
    let again = fails(
        tmp.path(),
        &[
            "bench", "company", "--people", "300", "--sites", "4", "--out", "co",
        ],
    );
    assert!(again.contains("not empty"), "{again}");

    // Served: a bench login reads a feed of generated threads.
    let port = crate::harness::free_port();
    let p2p = crate::harness::free_port();
    let mut node = Command::new(WEFT)
        .args(["run", "--config", "weft.toml"])
        .current_dir(out_dir.join("sites").join(&site))
        .env("WEFT_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("WEFT_LISTEN", format!("/ip4/127.0.0.1/tcp/{p2p}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while crate::harness::http(port, "GET", "/healthz", None, None).is_none_or(|(s, _)| s != 200) {
        assert!(start.elapsed().as_secs() < 60, "the node did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let login = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("logins: "))
        .and_then(|l| l.split("(e.g. ").nth(1))
        .and_then(|l| l.split(')').next())
        .unwrap()
        .to_owned();
    let (status, body) = crate::harness::http(
        port,
        "POST",
        "/api/v1/session",
        Some(&serde_json::json!({"login": login, "password": "weft-bench-password"})),
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let token: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = token["token"].as_str().unwrap();
    let (status, body) =
        crate::harness::http(port, "GET", "/api/v1/feed", None, Some(token)).unwrap();
    assert_eq!(status, 200, "{body}");
    let feed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items = feed["items"].as_array().unwrap();
    assert!(
        !items.is_empty(),
        "the feed shows generated threads: {body}"
    );
    let _ = node.kill();
    let _ = node.wait();
}
