//! A company on loopback for end-to-end tests: authority, directory, enrolled sites, and real
//! `weft run` processes with their own ports and sled stores.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const WEFT: &str = env!("CARGO_BIN_EXE_weft");

pub(crate) const SITES: [&str; 3] = ["paris", "new-york", "bangalore"];

/// Employees with a password, per site (from examples/directory.ldif).
pub(crate) const USERS: [&[&str]; 3] = [
    &["hdupre", "cmartin", "mroux"],
    &["jsmith", "ejohnson"],
    &["pkumar", "srao"],
];

/// The password the tests give every account.
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A port nobody listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

pub(crate) fn weft(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(WEFT)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "weft {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One site's setup.
pub(crate) struct Site {
    pub(crate) id: String,
    pub(crate) http_port: u16,
    pub(crate) config: PathBuf,
}

/// An enrolled company with a config per site; nodes are started separately.
pub(crate) struct Company {
    /// Kept so the folder lives as long as the company.
    _root: tempfile::TempDir,
    pub(crate) sites: Vec<Site>,
}

impl Company {
    pub(crate) fn new() -> Company {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let ldif = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/directory.ldif");
        weft(r, &["authority", "init", "--out", "authority"]);
        weft(
            r,
            &[
                "directory",
                "import",
                "--ldif",
                ldif.to_str().unwrap(),
                "--organisation",
                "Example Corp",
            ],
        );
        let mut sites = Vec::new();
        for id in SITES {
            let dir = r.join("sites").join(id);
            let p2p_port = free_port();
            let http_port = free_port();
            let address = format!("/ip4/127.0.0.1/tcp/{p2p_port}");
            weft(
                r,
                &[
                    "site",
                    "enroll",
                    "--site",
                    id,
                    "--out",
                    dir.to_str().unwrap(),
                    "--address",
                    &address,
                ],
            );
            let request = dir.join("enroll-request.txt");
            weft(
                r,
                &[
                    "authority",
                    "sign-site",
                    "--authority",
                    "authority",
                    "--request",
                    request.to_str().unwrap(),
                ],
            );
            let config = dir.join("weft.toml");
            fs::write(
                &config,
                format!(
                    "site = \"{id}\"\ndata_dir = \"data\"\nnode_key = \"node.key\"\ndirectory = \"../../directory.signed\"\ntrust = [\"../../authority/authority.pub\"]\nhttp_addr = \"127.0.0.1:{http_port}\"\nlisten = [\"{address}\"]\nresync_interval_secs = 2\n"
                ),
            )
            .unwrap();
            sites.push(Site {
                id: id.into(),
                http_port,
                config,
            });
        }
        weft(r, &["directory", "publish", "--authority", "authority"]);
        let company = Company { _root: root, sites };
        for (i, users) in USERS.iter().enumerate() {
            for u in *users {
                company.set_password(i, u);
            }
        }
        company
    }

    /// Sets `user`'s password to [`PASSWORD`] with `weft user set-password`.
    pub(crate) fn set_password(&self, i: usize, user: &str) {
        let mut child = Command::new(WEFT)
            .args([
                "user",
                "set-password",
                "--config",
                self.sites[i].config.to_str().unwrap(),
                "--user",
                user,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sets settings (`key = value` lines, TOML) in site `i`'s configuration, replacing a
    /// setting of the same name; takes effect at the node's next start.
    pub(crate) fn configure(&self, i: usize, lines: &str) {
        let path = &self.sites[i].config;
        let mut text = fs::read_to_string(path).unwrap();
        for line in lines.lines() {
            let key = line.split('=').next().unwrap().trim();
            let kept: Vec<&str> = text
                .lines()
                .filter(|l| l.split('=').next().map(str::trim) != Some(key))
                .collect();
            text = kept.join("\n") + "\n" + line + "\n";
        }
        fs::write(path, text).unwrap();
    }

    /// The company's folder (authority, draft and signed directory).
    pub(crate) fn root(&self) -> &Path {
        self._root.path()
    }

    /// Edits the draft directory (its JSON) and publishes the next version to
    /// `directory.signed`, which the nodes watch; returns the new version.
    pub(crate) fn publish(&self, edit: impl FnOnce(&mut serde_json::Value)) -> u64 {
        let draft = self.root().join("directory.draft.json");
        let mut json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&draft).unwrap()).unwrap();
        edit(&mut json);
        fs::write(&draft, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
        let out = weft(
            self.root(),
            &["directory", "publish", "--authority", "authority"],
        );
        out.split_whitespace()
            .nth(3)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no version in {out:?}"))
    }

    /// The store folder of site `i` (only to be opened while its node is stopped).
    pub(crate) fn store_dir(&self, i: usize) -> PathBuf {
        self.sites[i].config.parent().unwrap().join("data/store")
    }

    pub(crate) fn start(&self, i: usize) -> Node {
        Node::start(&self.sites[i])
    }
}

/// A running `weft run` process, killed when dropped.
pub(crate) struct Node {
    pub(crate) child: Child,
    pub(crate) http_port: u16,
    pub(crate) log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Node {
    /// Starts `weft run` for `site` and waits until it answers. If another process took its
    /// HTTP port meanwhile (ports are picked free, then released, and tests run in
    /// parallel), the site gets another port and the node is started again.
    pub(crate) fn start(site: &Site) -> Node {
        let mut attempt = 0;
        loop {
            let config = fs::read_to_string(&site.config).unwrap();
            let port: u16 = config
                .lines()
                .find_map(|l| l.strip_prefix("http_addr = \"127.0.0.1:"))
                .and_then(|rest| rest.trim_end_matches('"').parse().ok())
                .unwrap_or(site.http_port);
            let mut node = Node::spawn(site, port);
            let start = Instant::now();
            // Ask only once this node says it listens there: the port may be someone else's.
            let listening = format!("127.0.0.1:{port}");
            loop {
                if let Ok(Some(_)) = node.child.try_wait() {
                    break;
                }
                let ours = node
                    .log
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|l| l.contains("web server listening") && l.contains(&listening));
                if ours && node.get("/healthz").map(|(s, _)| s) == Some(200) {
                    return node;
                }
                if start.elapsed() > Duration::from_secs(60) {
                    panic!(
                        "timed out waiting until healthy; log:\n{}",
                        node.log.lock().unwrap().join("\n")
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            // The process ended: give up unless it was the HTTP port being taken.
            std::thread::sleep(Duration::from_millis(100));
            let log = node.log.lock().unwrap().join("\n");
            let taken = log.contains(&format!("cannot listen on 127.0.0.1:{port}"));
            attempt += 1;
            assert!(taken && attempt < 5, "the node stopped; log:\n{log}");
            let fresh = free_port();
            let config = config.replace(
                &format!("http_addr = \"127.0.0.1:{port}\""),
                &format!("http_addr = \"127.0.0.1:{fresh}\""),
            );
            fs::write(&site.config, config).unwrap();
        }
    }

    fn spawn(site: &Site, http_port: u16) -> Node {
        let mut child = Command::new(WEFT)
            .args(["run", "--config", site.config.to_str().unwrap()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        Node {
            child,
            http_port,
            log,
        }
    }

    /// GET on the node's HTTP port: (status, body).
    pub(crate) fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.http_port, path)
    }

    pub(crate) fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        mut ok: impl FnMut(&Node) -> bool,
    ) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if ok(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "timed out waiting until {what}; log:\n{}",
            self.log.lock().unwrap().join("\n")
        );
    }

    /// Polls until `path` answers 200 for `token` with JSON that `ok` accepts (30 s at most);
    /// returns that JSON.
    pub(crate) fn eventually(
        &self,
        token: &str,
        path: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let start = Instant::now();
        let mut last = None;
        loop {
            if let Some((200, body)) = self.request("GET", path, None, Some(token))
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(&body)
            {
                if ok(&v) {
                    return v;
                }
                last = Some(v);
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{path} never became as expected at {}: last {last:?}",
                self.http_port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path).unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// A metric from `/metrics`, summed over its labels. Only that metric: `weft_documents`
    /// is not `weft_documents_in_memory`.
    pub(crate) fn metric(&self, name: &str) -> f64 {
        let (_, body) = self.get("/metrics").unwrap();
        body.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub(crate) fn connected_peers(&self) -> usize {
        self.json("/api/v1/node")["peers"]
            .as_array()
            .map(|a| a.iter().filter(|p| p["connected"] == true).count())
            .unwrap_or(0)
    }

    /// Logs in and returns the bearer token.
    pub(crate) fn login(&self, user: &str) -> String {
        let (status, body) = self
            .request(
                "POST",
                "/api/v1/session",
                Some(&serde_json::json!({"login": user, "password": PASSWORD})),
                None,
            )
            .unwrap();
        assert_eq!(status, 200, "login {user}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        token: Option<&str>,
    ) -> Option<(u16, String)> {
        http(self.http_port, method, path, body, token)
    }

    /// A JSON API call that must answer `expect`; returns the body as JSON.
    pub(crate) fn api(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        expect: u16,
    ) -> serde_json::Value {
        let (status, text) = self
            .request(method, path, body.as_ref(), Some(token))
            .unwrap();
        assert_eq!(status, expect, "{method} {path}: {text}");
        if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        }
    }

    /// Kills the process at once (SIGKILL).
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "node did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET over loopback.
pub(crate) fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, "GET", path, None, None)
}

/// A connection to `127.0.0.1:port` from the loopback address `src` (`127.0.0.2`…), to
/// stand for another client machine.
pub(crate) fn connect_from(src: std::net::Ipv4Addr, port: u16) -> Option<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .ok()?;
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().ok()?;
        socket.bind((src, 0).into()).ok()?;
        let stream = socket.connect(([127, 0, 0, 1], port).into()).await.ok()?;
        let std = stream.into_std().ok()?;
        std.set_nonblocking(false).ok()?;
        Some(std)
    })
}

/// A raw HTTP/1.1 request: (status, headers, body). `extra` are whole header lines.
pub(crate) fn http_raw(
    port: u16,
    method: &str,
    path: &str,
    extra: &[String],
    body: &str,
) -> Option<(u16, String, String)> {
    http_raw_on(
        TcpStream::connect(("127.0.0.1", port)).ok()?,
        method,
        path,
        extra,
        body,
    )
}

/// [`http_raw`] over a connection already made.
pub(crate) fn http_raw_on(
    s: TcpStream,
    method: &str,
    path: &str,
    extra: &[String],
    body: &str,
) -> Option<(u16, String, String)> {
    let (status, head, body) = http_bytes_on(s, method, path, extra, body.as_bytes())?;
    Some((status, head, String::from_utf8_lossy(&body).into_owned()))
}

/// [`http_raw`] with bytes for the request's and the answer's bodies.
pub(crate) fn http_bytes(
    port: u16,
    method: &str,
    path: &str,
    extra: &[String],
    body: &[u8],
) -> Option<(u16, String, Vec<u8>)> {
    http_bytes_on(
        TcpStream::connect(("127.0.0.1", port)).ok()?,
        method,
        path,
        extra,
        body,
    )
}

fn http_bytes_on(
    mut s: TcpStream,
    method: &str,
    path: &str,
    extra: &[String],
    body: &[u8],
) -> Option<(u16, String, Vec<u8>)> {
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in extra {
        head.push_str(h);
        head.push_str("\r\n");
    }
    write!(s, "{head}Content-Length: {}\r\n\r\n", body.len()).ok()?;
    s.write_all(body).ok()?;
    // Read the head, then exactly Content-Length bytes if given (some servers keep the
    // connection open despite `Connection: close`), else to the end.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            break raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    let mut body_bytes = raw[head_end + 4..].to_vec();
    match length {
        Some(n) => {
            while body_bytes.len() < n {
                let k = s.read(&mut buf).ok()?;
                if k == 0 {
                    break;
                }
                body_bytes.extend_from_slice(&buf[..k]);
            }
        }
        None => {
            s.read_to_end(&mut body_bytes).ok()?;
        }
    }
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(&body_bytes)
    } else {
        body_bytes
    };
    Some((status, head, body))
}

/// A minimal HTTP/1.1 request over loopback: (status, body).
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
    token: Option<&str>,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        String::from_utf8_lossy(&dechunk(body.as_bytes())).into_owned()
    } else {
        body.to_owned()
    };
    Some((status, body))
}

fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(at) = s.windows(2).position(|w| w == b"\r\n") {
        let Some(n) = std::str::from_utf8(&s[..at])
            .ok()
            .and_then(|t| usize::from_str_radix(t.trim(), 16).ok())
        else {
            break;
        };
        let rest = &s[at + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = &rest[n..];
        while s.starts_with(b"\r\n") {
            s = &s[2..];
        }
    }
    out
}
