//! The JSON API of groups' document libraries (see `weft_node::service::library`): list a
//! library, add a document, upload a new version, restore an old one, file a document in a
//! folder. The files themselves are uploaded first (`POST /files`) and named by their id.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weft_node::crdt::DocKind;
use weft_node::service::{LibraryDoc, Version};

use crate::error::AppError;
use crate::extract::{ApiJson, Me};
use crate::json::{AttachmentJson, E401, E403, E404, E415, E422, E429, attachment_json};
use crate::params::doc_id;
use crate::state::{AppState, viewer};
use crate::time::rfc3339;

/// One version of a document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DocumentVersion)]
pub struct VersionJson {
    /// Its post's id (for `POST /documents/{id}/versions/{version}/restore`).
    pub id: String,
    /// 1 for the first.
    pub number: usize,
    pub author: String,
    pub at: String,
    /// What changed.
    pub note: String,
    pub file: AttachmentJson,
}

/// A library document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Document)]
pub struct DocumentJson {
    pub id: String,
    pub title: String,
    /// `""` for the top of the library; `/` separates folders.
    pub folder: String,
    /// The newest version's file.
    pub current: Option<AttachmentJson>,
    /// Every version, the oldest first.
    pub versions: Vec<VersionJson>,
}

/// A group's library.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Library)]
pub struct LibraryJson {
    pub group: String,
    /// Every folder holding a document (and those above), in order.
    pub folders: Vec<String>,
    /// The documents, by folder then title.
    pub documents: Vec<DocumentJson>,
}

fn version_json(v: &Version) -> VersionJson {
    VersionJson {
        id: v.post.clone(),
        number: v.number,
        author: v.author.clone(),
        at: rfc3339(v.at),
        note: v.note.clone(),
        file: attachment_json(&v.file),
    }
}

pub(crate) fn document_json(d: &LibraryDoc) -> DocumentJson {
    DocumentJson {
        id: d.thread.to_string(),
        title: d.title.clone(),
        folder: d.folder.clone(),
        current: d.current().map(|v| attachment_json(&v.file)),
        versions: d.versions.iter().map(version_json).collect(),
    }
}

/// A group's library
///
/// Its folders and documents, each with every version (at most 2,000 documents).
#[utoipa::path(
    get,
    path = "/groups/{id}/library",
    tag = "library",
    params(("id" = String, Path, description = "A group's id")),
    responses(
        (status = 200, description = "OK", body = LibraryJson),
        (status = 401, response = E401),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn library(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<LibraryJson>, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let lib = state.service.library(&viewer(&me), &id).await?;
    Ok(Json(LibraryJson {
        group: lib.group.to_string(),
        folders: lib.folders,
        documents: lib.documents.iter().map(document_json).collect(),
    }))
}

/// A new document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocumentBody {
    /// The id of one of the caller's uploads (`POST /files`): the first version.
    pub file: String,
    /// The file's name if empty.
    #[serde(default)]
    pub title: String,
    /// `""` (the default) for the top; `/` separates folders.
    #[serde(default)]
    pub folder: String,
    /// What this version is ("Version 1" if empty).
    #[serde(default)]
    pub note: String,
}

/// Add a document to a group's library
#[utoipa::path(
    post,
    path = "/groups/{id}/library",
    tag = "library",
    params(("id" = String, Path, description = "A group's id")),
    request_body = NewDocumentBody,
    responses(
        (status = 201, description = "Added", body = DocumentJson),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn add_document(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NewDocumentBody>,
) -> Result<(StatusCode, Json<DocumentJson>), AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let v = viewer(&me);
    let doc = state
        .service
        .add_document(&v, &id, &b.folder, &b.title, &b.note, &b.file)
        .await?;
    let d = state.service.document(&v, &doc).await?;
    Ok((StatusCode::CREATED, Json(document_json(&d))))
}

/// A library document
#[utoipa::path(
    get,
    path = "/documents/{id}",
    tag = "library",
    params(("id" = String, Path, description = "A document's id")),
    responses(
        (status = 200, description = "OK", body = DocumentJson),
        (status = 401, response = E401),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn document(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<DocumentJson>, AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    let d = state.service.document(&viewer(&me), &id).await?;
    Ok(Json(document_json(&d)))
}

/// A new version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVersionBody {
    /// The id of one of the caller's uploads.
    pub file: String,
    /// What changed ("Version N" if empty).
    #[serde(default)]
    pub note: String,
}

/// Upload a new version of a document
///
/// The older versions stay: listed, readable, and restorable.
#[utoipa::path(
    post,
    path = "/documents/{id}/versions",
    tag = "library",
    params(("id" = String, Path, description = "A document's id")),
    request_body = NewVersionBody,
    responses(
        (status = 201, description = "The document with its new version", body = DocumentJson),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn new_version(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NewVersionBody>,
) -> Result<(StatusCode, Json<DocumentJson>), AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    let v = viewer(&me);
    state.service.new_version(&v, &id, &b.note, &b.file).await?;
    let d = state.service.document(&v, &id).await?;
    Ok((StatusCode::CREATED, Json(document_json(&d))))
}

/// Restore an old version
///
/// Makes that version's file the newest again, as a new version ("Version N restored").
#[utoipa::path(
    post,
    path = "/documents/{id}/versions/{version}/restore",
    tag = "library",
    params(
        ("id" = String, Path, description = "A document's id"),
        ("version" = String, Path, description = "A version's id"),
    ),
    responses(
        (status = 201, description = "The document with the restored version newest", body = DocumentJson),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn restore_version(
    State(state): State<AppState>,
    Me(me): Me,
    Path((id, version)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DocumentJson>), AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    let v = viewer(&me);
    state.service.restore_version(&v, &id, &version).await?;
    let d = state.service.document(&v, &id).await?;
    Ok((StatusCode::CREATED, Json(document_json(&d))))
}

/// A folder.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FolderBody {
    /// `""` for the top; `/` separates folders.
    pub folder: String,
}

/// File a document in a folder
#[utoipa::path(
    put,
    path = "/documents/{id}/folder",
    tag = "library",
    params(("id" = String, Path, description = "A document's id")),
    request_body = FolderBody,
    responses(
        (status = 200, description = "The document, filed", body = DocumentJson),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn move_document(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<FolderBody>,
) -> Result<Json<DocumentJson>, AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    let v = viewer(&me);
    state.service.move_document(&v, &id, &b.folder).await?;
    let d = state.service.document(&v, &id).await?;
    Ok(Json(document_json(&d)))
}
