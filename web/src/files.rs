//! Files (issue 17, first part): `POST /files` streams a file's bytes into the node's blob
//! store (raw body; its `Content-Type`; its name in `X-File-Name`), within the node's limit
//! (413 beyond it, with the limit); `GET /files/{id}` serves it back with HTTP ranges
//! (`206 Partial Content`, a suffix range, `416` outside it), streamed a chunk at a time.
//!
//! A file is served as an attachment (downloaded, never shown in the node's own origin)
//! unless it is an image, a video or audio of a type browsers show safely; always with
//! `nosniff` and a `sandbox` policy.

use std::io::{Read, Seek, SeekFrom};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get, routing::post};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;
use weft_node::service::ByteRange;

use crate::error::AppError;
use crate::extract::Me;
use crate::json::{E401, E404, E413, E415};
use crate::state::{AppState, viewer};

/// The header that names an uploaded file.
pub const FILE_NAME: &str = "x-file-name";

/// The routes, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/files", post(upload).layer(DefaultBodyLimit::disable()))
        .route("/files/{id}", get(download))
}

/// A stored file.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = File)]
pub struct FileJson {
    /// The SHA-256 of its bytes (hex).
    pub id: String,
    pub size: u64,
    pub media_type: String,
    pub name: String,
    /// Where to fetch it (ranges allowed).
    pub url: String,
    /// Where its thumbnail is, for a photo (PNG, JPEG, WebP, GIF) the node could read. A
    /// JPEG's id is that of its bytes once its metadata (EXIF: position, camera…) was
    /// dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}

/// The body's chunks as a blocking reader (for the blob store, on a blocking thread).
struct Chunks(
    std::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
    Vec<u8>,
    usize,
);

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.2 == self.1.len() {
            match self.0.recv() {
                Ok(Ok(chunk)) => {
                    self.1 = chunk;
                    self.2 = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.1.len() - self.2);
        buf[..n].copy_from_slice(&self.1[self.2..self.2 + n]);
        self.2 += n;
        Ok(n)
    }
}

/// Upload a file
///
/// The raw bytes are the body; `Content-Type` is the file's type and `X-File-Name` its name.
/// At most the node's `max_file_mb` (413 beyond, with the limit). With the session cookie,
/// `X-File-Name` is required (a page elsewhere cannot send it). Until files are attached to
/// posts, a file is readable by its uploader only.
#[utoipa::path(
    post,
    path = "/files",
    tag = "files",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    params(("x-file-name" = String, Header, description = "The file's name")),
    responses(
        (status = 201, description = "Stored", body = FileJson),
        (status = 401, response = E401),
        (status = 413, response = E413),
        (status = 415, response = E415),
    )
)]
pub(crate) async fn upload(
    State(state): State<AppState>,
    Me(me): Me,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<FileJson>), AppError> {
    let name = headers
        .get(FILE_NAME)
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    // The body's chunks go to the blob store through a small queue: when the store stops
    // (the limit), the queue closes and the rest of the body is not read.
    let (tx, rx) = std::sync::mpsc::sync_channel(8);
    let feed = tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let item = chunk
                .map(|b| b.to_vec())
                .map_err(|e| std::io::Error::other(e.to_string()));
            let failed = item.is_err();
            let tx = tx.clone();
            // A full queue waits off the async threads.
            let sent = tokio::task::spawn_blocking(move || tx.send(item).is_ok())
                .await
                .unwrap_or(false);
            if !sent || failed {
                break;
            }
        }
    });
    let v = viewer(&me);
    let result = state
        .service
        .upload(&v, &name, &media_type, Chunks(rx, Vec::new(), 0))
        .await;
    feed.abort();
    let info = result?;
    Ok((
        StatusCode::CREATED,
        Json(FileJson {
            url: format!("/api/v1/files/{}", info.id),
            thumbnail_url: info
                .thumbnail
                .as_ref()
                .map(|t| format!("/api/v1/files/{}", t.0)),
            id: info.id,
            size: info.size,
            media_type: info.media_type,
            name: info.name,
        }),
    ))
}

/// `%XX` sequences decoded (a browser sends a non-ASCII name that way); invalid UTF-8 is
/// replaced.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Types a browser may show inline from this origin (no script can run in them).
const INLINE: [&str; 9] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/webm",
    "audio/mpeg",
    "audio/ogg",
    "audio/webm",
];

/// A chunk of a file sent at a time.
const CHUNK: usize = 256 * 1024;

/// A file
///
/// Honours `Range` (`bytes=a-b`, `bytes=a-`, `bytes=-n`): `206` with `Content-Range`, `416`
/// for a range outside the file. 404 for a file the caller may not read.
#[utoipa::path(
    get,
    path = "/files/{id}",
    tag = "files",
    params(("id" = String, Path, description = "A file's id (the SHA-256 of its bytes)")),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "A range of it", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, response = E401),
        (status = 404, response = E404),
        (status = 416, description = "The range is outside the file"),
    )
)]
pub(crate) async fn download(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (info, mut file) = state.service.file(&viewer(&me), &id).await?;
    let size = info.size;
    let range = ByteRange::parse(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    );
    let (status, start, len) = match range {
        ByteRange::Whole => (StatusCode::OK, 0, size),
        ByteRange::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        ByteRange::Unsatisfiable => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    file.seek(SeekFrom::Start(start))
        .map_err(|e| AppError::internal(format_args!("a file cannot be read: {e}")))?;
    // Streamed a chunk at a time from a blocking thread: memory stays a few chunks.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        let mut buf = vec![0u8; CHUNK];
        while left > 0 {
            let want = (left as usize).min(CHUNK);
            match file.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => {
                    left -= n as u64;
                    if tx.blocking_send(Ok(buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = status;
    let h = r.headers_mut();
    let inline = INLINE.contains(&info.media_type.as_str());
    let set = |h: &mut HeaderMap, k: header::HeaderName, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set(
        h,
        header::CONTENT_TYPE,
        if inline {
            info.media_type.clone()
        } else {
            "application/octet-stream".into()
        },
    );
    set(h, header::CONTENT_LENGTH, len.to_string());
    set(h, header::ACCEPT_RANGES, "bytes".into());
    set(h, header::ETAG, format!("\"{}\"", info.id));
    set(
        h,
        header::CACHE_CONTROL,
        "private, max-age=31536000, immutable".into(),
    );
    set(
        h,
        header::CONTENT_DISPOSITION,
        format!(
            "{}; filename*=UTF-8''{}",
            if inline { "inline" } else { "attachment" },
            encode_name(&info.name)
        ),
    );
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox".into(),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        set(
            h,
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", start + len - 1),
        );
    }
    Ok(r)
}

/// A file name for `filename*=` (RFC 5987: UTF-8, percent-encoded).
fn encode_name(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_travel_percent_encoded_both_ways() {
        assert_eq!(percent_decode("r%C3%A9sum%C3%A9.pdf"), "résumé.pdf");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(encode_name("résumé 1.pdf"), "r%C3%A9sum%C3%A9%201.pdf");
    }
}
