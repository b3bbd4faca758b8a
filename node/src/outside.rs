//! Fetching from outside the company (the feeds groups follow): a small HTTP/1.1 client that
//! a hostile URL cannot turn against the company's own network.
//!
//! * **No internal addresses** unless the operator allows them (`feeds_allow_private`): the
//!   host is resolved here, every address it resolves to is checked (loopback, private,
//!   link-local, carrier-grade NAT, unique-local, multicast, unspecified… are refused) and
//!   the connection goes to the checked address itself — a name that resolves differently a
//!   moment later (DNS rebinding) gains nothing. Redirects are followed (at most
//!   [`MAX_REDIRECTS`]) and checked the same way.
//! * **Bounded**: one deadline for the whole exchange, redirects included; at most
//!   `max_bytes` of body (more: refused, nothing kept); `http` and `https` only (TLS by
//!   rustls with the Mozilla roots).
//! * **Conditional**: the `ETag` and `Last-Modified` of the last answer are sent back
//!   (`If-None-Match`, `If-Modified-Since`); `304 Not Modified` costs no body.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::Uri;
use hyper::header::{self, HeaderValue};
use hyper_util::rt::TokioIo;

/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 3;

/// What a fetch may do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// For the whole exchange.
    pub timeout: Duration,
    pub max_bytes: usize,
    /// Whether loopback and private addresses may be fetched (tests, intranet feeds).
    pub allow_private: bool,
}

/// An answer.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// 304: nothing new.
    NotModified,
    /// 200, with the validators to send next time.
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// Why a fetch failed (said to the group's owner as it is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("not an http or https address")]
    BadUrl,
    #[error("{0} is an internal address, which this site does not fetch")]
    Internal(String),
    #[error("the name could not be resolved: {0}")]
    Resolve(String),
    #[error("no answer within {0} s")]
    Timeout(u64),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the server answered {0}")]
    Status(u16),
    #[error("too many redirects")]
    Redirects,
}

/// Whether `ip` is an address of the Internet at large (not this machine, not a private or
/// special-purpose network).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                // Carrier-grade NAT 100.64.0.0/10, benchmarking 198.18.0.0/15, reserved 240/4.
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 240
                // IETF protocol assignments 192.0.0.0/24.
                || (o[0] == 192 && o[1] == 0 && o[2] == 0))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32,
                // NAT64 64:ff9b::/96 (it reaches IPv4 addresses), 6to4 2002::/16.
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x0064 && s[1] == 0xff9b)
                || s[0] == 0x2002)
        }
    }
}

/// GETs `url`, following redirects, within `limits`; `etag` and `last_modified` from the
/// last answer make it conditional.
pub async fn get(
    url: &str,
    etag: Option<&str>,
    last_modified: Option<&str>,
    limits: &Limits,
) -> Result<Fetched, FetchError> {
    let secs = limits.timeout.as_secs();
    tokio::time::timeout(limits.timeout, follow(url, etag, last_modified, limits))
        .await
        .map_err(|_| FetchError::Timeout(secs))?
}

async fn follow(
    url: &str,
    etag: Option<&str>,
    last_modified: Option<&str>,
    limits: &Limits,
) -> Result<Fetched, FetchError> {
    let mut uri: Uri = url.trim().parse().map_err(|_| FetchError::BadUrl)?;
    for _ in 0..=MAX_REDIRECTS {
        match once(&uri, etag, last_modified, limits).await? {
            Step::Done(f) => return Ok(f),
            Step::Redirect(to) => uri = resolve(&uri, &to)?,
        }
    }
    Err(FetchError::Redirects)
}

/// A `Location` against the address it was given for.
fn resolve(base: &Uri, location: &str) -> Result<Uri, FetchError> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.parse().map_err(|_| FetchError::BadUrl);
    }
    let scheme = base.scheme_str().ok_or(FetchError::BadUrl)?;
    let authority = base.authority().ok_or(FetchError::BadUrl)?;
    let path = if location.starts_with('/') {
        location.to_owned()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    };
    format!("{scheme}://{authority}{path}")
        .parse()
        .map_err(|_| FetchError::BadUrl)
}

enum Step {
    Done(Fetched),
    Redirect(String),
}

/// An address of `host:port` that may be fetched.
async fn address(host: &str, port: u16, limits: &Limits) -> Result<SocketAddr, FetchError> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| FetchError::Resolve(e.to_string()))?
        .collect();
    if found.is_empty() {
        return Err(FetchError::Resolve(format!("{host} has no address")));
    }
    if limits.allow_private {
        return Ok(found[0]);
    }
    // All of them, not just the first: a name that also points inside is refused.
    if let Some(bad) = found.iter().find(|a| !is_public(a.ip())) {
        return Err(FetchError::Internal(bad.ip().to_string()));
    }
    Ok(found[0])
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, FetchError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| FetchError::Connect(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn once(
    uri: &Uri,
    etag: Option<&str>,
    last_modified: Option<&str>,
    limits: &Limits,
) -> Result<Step, FetchError> {
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(FetchError::BadUrl),
    };
    let host = uri.host().ok_or(FetchError::BadUrl)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let addr = address(host, port, limits).await?;
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| FetchError::Connect(e.to_string()))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = hyper::Request::get(path)
        .header(
            header::HOST,
            uri.authority().map_or(host, |a| a.as_str()),
        )
        .header(
            header::USER_AGENT,
            concat!("Weft/", env!("CARGO_PKG_VERSION"), " (feed reader)"),
        )
        .header(
            header::ACCEPT,
            "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8",
        );
    if let Some(e) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        req = req.header(header::IF_NONE_MATCH, e);
    }
    if let Some(m) = last_modified.and_then(|m| HeaderValue::from_str(m).ok()) {
        req = req.header(header::IF_MODIFIED_SINCE, m);
    }
    let req = req
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .map_err(|_| FetchError::BadUrl)?;
    let response = if https {
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|_| FetchError::BadUrl)?;
        let tls = tokio_rustls::TlsConnector::from(tls_config()?)
            .connect(name, tcp)
            .await
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        send(TokioIo::new(tls), req).await?
    } else {
        send(TokioIo::new(tcp), req).await?
    };
    let status = response.status().as_u16();
    let text = |h: header::HeaderName| {
        response
            .headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    match status {
        304 => Ok(Step::Done(Fetched::NotModified)),
        301 | 302 | 303 | 307 | 308 => text(header::LOCATION)
            .map(Step::Redirect)
            .ok_or(FetchError::Status(status)),
        200 => {
            let (etag, last_modified) = (text(header::ETAG), text(header::LAST_MODIFIED));
            if response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                .is_some_and(|n| n > limits.max_bytes)
            {
                return Err(FetchError::TooLarge(limits.max_bytes));
            }
            let mut body = response.into_body();
            let mut bytes = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| FetchError::Connect(e.to_string()))?;
                if let Some(data) = frame.data_ref() {
                    if bytes.len() + data.len() > limits.max_bytes {
                        return Err(FetchError::TooLarge(limits.max_bytes));
                    }
                    bytes.extend_from_slice(data);
                }
            }
            Ok(Step::Done(Fetched::Body {
                bytes,
                etag,
                last_modified,
            }))
        }
        s => Err(FetchError::Status(s)),
    }
}

async fn send<T>(
    io: TokioIo<T>,
    req: hyper::Request<http_body_util::Empty<hyper::body::Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, FetchError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| FetchError::Connect(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
        .send_request(req)
        .await
        .map_err(|e| FetchError::Connect(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "224.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "1.1.1.1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn internal_addresses_are_refused_unless_allowed() {
        let limits = Limits {
            timeout: Duration::from_secs(5),
            max_bytes: 1024,
            allow_private: false,
        };
        assert_eq!(
            get("http://127.0.0.1:9/feed", None, None, &limits)
                .await
                .unwrap_err(),
            FetchError::Internal("127.0.0.1".into())
        );
        assert_eq!(
            get("http://localhost:9/feed", None, None, &limits)
                .await
                .err()
                .map(|e| matches!(e, FetchError::Internal(_))),
            Some(true)
        );
        assert_eq!(
            get("ftp://example.com/", None, None, &limits)
                .await
                .unwrap_err(),
            FetchError::BadUrl
        );
        assert_eq!(
            get("file:///etc/passwd", None, None, &limits)
                .await
                .unwrap_err(),
            FetchError::BadUrl
        );
    }

    #[test]
    fn redirects_resolve_against_their_page() {
        let base: Uri = "https://news.example.com/a/feed.xml".parse().unwrap();
        assert_eq!(
            resolve(&base, "/b/rss").unwrap().to_string(),
            "https://news.example.com/b/rss"
        );
        assert_eq!(
            resolve(&base, "atom.xml").unwrap().to_string(),
            "https://news.example.com/a/atom.xml"
        );
        assert_eq!(
            resolve(&base, "http://10.0.0.1/x").unwrap().to_string(),
            "http://10.0.0.1/x"
        );
    }
}
