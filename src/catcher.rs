//! The demo's mail catcher: a small SMTP server on a loopback port that accepts every mail
//! the demo's nodes send and writes each to a folder as an `.eml` file (openable by any mail
//! program), instead of delivering it. Not a mail server for real use: no TLS, no
//! authentication, loopback only.

use std::path::PathBuf;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The largest mail kept (bytes); a longer one is refused.
const MAX_MAIL: usize = 10 * 1024 * 1024;
/// The longest command line.
const MAX_LINE: usize = 4096;

/// Accepts SMTP connections on `listener` until the task is dropped, writing mails to `dir`.
pub(crate) async fn run(listener: TcpListener, dir: PathBuf) {
    let mut n: u64 = 0;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let dir = dir.clone();
        n += 1;
        let first = n * 10_000;
        tokio::spawn(async move {
            if let Err(e) = session(stream, &dir, first).await {
                tracing::debug!(error = %e, "a mail catcher session ended");
            }
        });
    }
}

/// Reads one line (CRLF or LF), at most `max` bytes; `None` at the end.
async fn line(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    max: usize,
) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    loop {
        let avail = r.fill_buf().await?;
        if avail.is_empty() {
            if buf.is_empty() {
                return Ok(None);
            }
            break;
        }
        if let Some(i) = avail.iter().position(|b| *b == b'\n') {
            buf.extend_from_slice(&avail[..=i]);
            r.consume(i + 1);
            break;
        }
        let n = avail.len();
        buf.extend_from_slice(avail);
        r.consume(n);
        if buf.len() > max {
            return Err(std::io::Error::other("line too long"));
        }
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

async fn session(stream: TcpStream, dir: &std::path::Path, mut seq: u64) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 weft-demo mail catcher\r\n").await?;
    let mut rcpt: Vec<String> = Vec::new();
    while let Some(cmd) = line(&mut r, MAX_LINE).await? {
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 weft-demo\r\n"
        } else if upper.starts_with("MAIL FROM") {
            rcpt.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO") {
            rcpt.push(cmd[8..].trim().trim_start_matches(':').trim().to_owned());
            b"250 OK\r\n"
        } else if upper == "DATA" {
            w.write_all(b"354 End with <CRLF>.<CRLF>\r\n").await?;
            let mut mail = Vec::new();
            loop {
                let Some(l) = line(&mut r, MAX_LINE * 4).await? else {
                    return Ok(());
                };
                if l == "." {
                    break;
                }
                // Dot-stuffing undone.
                let l = l
                    .strip_prefix('.')
                    .filter(|_| l.starts_with(".."))
                    .unwrap_or(&l);
                mail.extend_from_slice(l.as_bytes());
                mail.extend_from_slice(b"\r\n");
                if mail.len() > MAX_MAIL {
                    w.write_all(b"552 Too large\r\n").await?;
                    return Ok(());
                }
            }
            seq += 1;
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let path = dir.join(format!("{stamp}-{seq}.eml"));
            let mut text = format!("X-Weft-Demo-Rcpt: {}\r\n", rcpt.join(", ")).into_bytes();
            text.extend_from_slice(&mail);
            std::fs::write(&path, text)?;
            b"250 Kept\r\n"
        } else if upper == "QUIT" {
            w.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else {
            b"502 Not implemented\r\n"
        };
        w.write_all(reply).await?;
    }
    Ok(())
}
