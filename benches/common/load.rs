//! What the web benchmarks share: a keep-alive HTTP/1.1 client, sessions driving one
//! endpoint for a fixed time ([`load`]), percentiles and the table of ratios against the
//! baseline measured in the same run. Included by `web.rs` and `company.rs` (`#[path]`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How a request authenticates: the UI's cookie or the API's bearer token.
#[derive(Clone, Copy)]
pub(crate) enum Auth {
    Cookie,
    Bearer,
}

/// A tiny keep-alive HTTP/1.1 client over one TCP connection.
pub(crate) struct Conn {
    port: u16,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    pub(crate) fn open(port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(600)))?;
        Ok(Conn {
            port,
            reader: BufReader::with_capacity(64 * 1024, s.try_clone()?),
            writer: s,
        })
    }

    /// One request on the connection: (status, body). The connection stays usable unless
    /// this returns an error (then open a new one).
    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<(&str, Auth)>,
        body: Option<&str>,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept-Language: en\r\n",
            self.port
        );
        match token {
            Some((t, Auth::Cookie)) => head.push_str(&format!("Cookie: weft_session={t}\r\n")),
            Some((t, Auth::Bearer)) => head.push_str(&format!("Authorization: Bearer {t}\r\n")),
            None => {}
        }
        if let Some(b) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        if let Some(b) = body {
            head.push_str(b);
        }
        self.writer.write_all(head.as_bytes())?;
        self.read_response()
    }

    pub(crate) fn read_line(&mut self, line: &mut String) -> std::io::Result<()> {
        line.clear();
        if self.reader.read_line(line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(())
    }

    pub(crate) fn read_response(&mut self) -> std::io::Result<(u16, Vec<u8>)> {
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let mut line = String::new();
        self.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status line"))?;
        let mut length = None;
        let mut chunked = false;
        let mut close = false;
        loop {
            self.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
                match k.as_str() {
                    "content-length" => length = v.parse::<usize>().ok(),
                    "transfer-encoding" => chunked = v.contains("chunked"),
                    "connection" => close = v.contains("close"),
                    _ => {}
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                self.read_line(&mut line)?;
                let size = line.trim().split(';').next().unwrap_or("");
                let n = usize::from_str_radix(size.trim(), 16).map_err(|_| bad("chunk size"))?;
                if n == 0 {
                    // Trailers, then the empty line.
                    loop {
                        self.read_line(&mut line)?;
                        if line.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + n, 0);
                self.reader.read_exact(&mut body[start..])?;
                self.read_line(&mut line)?;
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.reader.read_exact(&mut body)?;
        } else if status != 204 && status != 304 && !(100..200).contains(&status) {
            self.reader.read_to_end(&mut body)?;
            close = true;
        }
        if close {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                format!("server closed the connection after {status}"),
            ));
        }
        Ok((status, body))
    }
}

/// A JSON call on a keep-alive connection that must answer `expect`.
pub(crate) fn call(
    conn: &mut Conn,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
    expect: u16,
) -> Value {
    let (status, text) = conn
        .request(
            method,
            path,
            Some((token, Auth::Bearer)),
            Some(&body.to_string()),
        )
        .unwrap();
    let text = String::from_utf8_lossy(&text);
    assert_eq!(status, expect, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// What one endpoint's run measured.
pub(crate) struct Run {
    pub(crate) name: String,
    pub(crate) requests: usize,
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
    pub(crate) wall: Duration,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) mean_bytes: usize,
}

impl Run {
    pub(crate) fn rps(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }
}

/// What one session of a run saw.
pub(crate) struct Session {
    lat: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    bytes: usize,
    end: Instant,
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Drives `path(session, i)` from one connection per session for `secs` seconds. A request
/// started before the deadline is waited for and counted; the rate is over the time until
/// the last one finished.
pub(crate) fn load(
    port: u16,
    name: &str,
    sessions: &[String],
    auth: Auth,
    secs: f64,
    path: &(dyn Fn(usize, usize) -> String + Sync),
) -> Run {
    eprintln!(
        "measuring {name}: {} sessions for {secs} s…",
        sessions.len()
    );
    let barrier = Barrier::new(sessions.len() + 1);
    let results: Mutex<Vec<Session>> = Mutex::new(Vec::new());
    let mut start = Instant::now();
    std::thread::scope(|s| {
        for (k, token) in sessions.iter().enumerate() {
            let (barrier, results) = (&barrier, &results);
            s.spawn(move || {
                let mut conn = Conn::open(port).unwrap();
                barrier.wait();
                let deadline = Instant::now() + Duration::from_secs_f64(secs);
                let mut lat = Vec::new();
                let (mut errors, mut first_error, mut bytes) = (0, None, 0);
                let mut i = 0;
                while Instant::now() < deadline {
                    let p = path(k, i);
                    i += 1;
                    let t = Instant::now();
                    let r = conn.request("GET", &p, Some((token, auth)), None);
                    lat.push(t.elapsed());
                    match r {
                        Ok((200, body)) => bytes += body.len(),
                        Ok((status, body)) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| {
                                format!(
                                    "GET {p}: {status} {}",
                                    String::from_utf8_lossy(&body[..body.len().min(200)])
                                )
                            });
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| format!("GET {p}: {e}"));
                            conn = Conn::open(port).unwrap();
                        }
                    }
                }
                results.lock().unwrap().push(Session {
                    lat,
                    errors,
                    first_error,
                    bytes,
                    end: Instant::now(),
                });
            });
        }
        barrier.wait();
        start = Instant::now();
    });
    let results = results.into_inner().unwrap();
    let end = results.iter().map(|r| r.end).max().unwrap();
    let mut lat: Vec<Duration> = results.iter().flat_map(|r| r.lat.iter().copied()).collect();
    lat.sort();
    let errors = results.iter().map(|r| r.errors).sum();
    let ok = lat.len() - errors;
    Run {
        name: name.to_owned(),
        requests: lat.len(),
        errors,
        first_error: results.iter().find_map(|r| r.first_error.clone()),
        wall: end - start,
        p50: percentile(&lat, 0.5),
        p99: percentile(&lat, 0.99),
        mean_bytes: results.iter().map(|r| r.bytes).sum::<usize>() / ok.max(1),
    }
}

/// One session alone, one request after another: the latency of a request with no queue.
pub(crate) fn alone(port: u16, token: &str, auth: Auth, paths: &[String]) -> Duration {
    let mut conn = Conn::open(port).unwrap();
    let mut lat = Vec::new();
    let start = Instant::now();
    for p in paths.iter().cycle() {
        let t = Instant::now();
        let (status, _) = conn.request("GET", p, Some((token, auth)), None).unwrap();
        lat.push(t.elapsed());
        assert_eq!(status, 200, "GET {p}");
        if lat.len() >= 200 || (lat.len() >= 5 && start.elapsed() > Duration::from_secs(3)) {
            break;
        }
    }
    lat.sort();
    percentile(&lat, 0.5)
}

/// The 1-minute load average, to tell whether something else was using the machine.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// A figure with as many decimals as it needs (one below 100, none above).
pub(crate) fn num(x: f64) -> String {
    if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One table of runs against the first (the baseline: `/healthz`).
pub(crate) fn print_table(runs: &[Run], single: &[Duration]) {
    let base = &runs[0];
    println!(
        "\n| endpoint | requests | errors | req/s | p50 ms | p99 ms | alone p50 ms | body bytes | req/s ratio | p50 ratio | p99 ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, r) in runs.iter().enumerate() {
        let alone = single
            .get(i)
            .map_or("–".to_owned(), |a| format!("{:.2}", ms(*a)));
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {} | {} | {}× | {}× | {}× |",
            r.name,
            r.requests,
            r.errors,
            num(r.rps()),
            ms(r.p50),
            ms(r.p99),
            alone,
            r.mean_bytes,
            num(base.rps() / r.rps()),
            num(r.p50.as_secs_f64() / base.p50.as_secs_f64()),
            num(r.p99.as_secs_f64() / base.p99.as_secs_f64())
        );
    }
}

/// Fails the benchmark when an endpoint answered more than 1% of its requests with an
/// error, after printing each endpoint's first error.
pub(crate) fn assert_few_errors<'a>(runs: impl IntoIterator<Item = &'a Run> + Clone) {
    for r in runs.clone() {
        if let Some(e) = &r.first_error {
            println!("{}: first error: {e}", r.name);
        }
    }
    for r in runs {
        assert!(
            r.errors * 100 <= r.requests,
            "{}: {} errors in {} requests (more than 1%); first: {:?}",
            r.name,
            r.errors,
            r.requests,
            r.first_error
        );
    }
}
