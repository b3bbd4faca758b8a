//! A group's document library: its folders and documents (`/groups/{id}/library`), one
//! document with its versions (`/documents/{id}`), and the forms that add a document,
//! upload a new version, restore an old one and file a document in a folder. Files are
//! uploaded by `upload.js` as they are picked, as in the post forms.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use weft_node::NodeError;
use weft_node::crdt::DocKind;
use weft_node::service::{LibraryDoc, Version};

use super::layout::{doc_form, not_found, page};
use super::threads::{file_ids, files_field, human_size};
use crate::extract::{Button, CsrfForm, Viewer};
use crate::state::AppState;
use crate::time::rfc3339;

#[derive(Deserialize, Default)]
pub(super) struct FolderQuery {
    /// The folder shown (`""`: every document).
    #[serde(default)]
    folder: String,
}

/// A version's file as a link, with its size.
fn file_link(v: &Version) -> Markup {
    let url = format!("/api/v1/files/{}", v.file.hash);
    html! {
        a href=(url) download=(v.file.name) { (v.file.name) } " "
        span.meta { "(" (human_size(v.file.size)) ")" }
    }
}

/// `GET /groups/{id}/library`: the folders, and the documents of the one chosen.
pub(super) async fn library_page(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<FolderQuery>,
) -> Response {
    let t = |k| v.lang.t(k);
    let Ok(gid) = crate::params::doc_id(&id, DocKind::Group) else {
        return not_found(&v);
    };
    let lib = match state.service.library(&v.who(), &gid).await {
        Ok(l) => l,
        Err(_) => return not_found(&v),
    };
    let folder = weft_node::crdt::clean_folder(&q.folder);
    let shown: Vec<&LibraryDoc> = lib
        .documents
        .iter()
        .filter(|d| {
            folder.is_empty() || d.folder == folder || d.folder.starts_with(&format!("{folder}/"))
        })
        .collect();
    let base = format!("/groups/{gid}/library");
    page(
        v.lang,
        &format!("{} · {}", t("library"), lib.group_name),
        Some(&v),
        html! {
            p.meta { a href={ "/groups/" (gid) } { (lib.group_name) } }
            h1 { (t("library")) @if !folder.is_empty() { " · " (folder) } }
            div.columns {
                section {
                    @if shown.is_empty() { p.muted { (t("no_documents")) } }
                    @else {
                        table.library {
                            thead { tr {
                                th scope="col" { (t("document")) }
                                th scope="col" { (t("folder")) }
                                th scope="col" { (t("version")) }
                                th scope="col" { (t("changed")) }
                            } }
                            tbody {
                                @for d in &shown {
                                    @if let Some(cur) = d.current() {
                                        tr {
                                            td { a href={ "/documents/" (d.thread) } { (d.title) } br; (file_link(cur)) }
                                            td { @if d.folder.is_empty() { "—" } @else { (d.folder) } }
                                            td { (cur.number) }
                                            td {
                                                a href={ "/people/" (cur.author) } { "@" (cur.author) } br;
                                                time datetime=(rfc3339(cur.at)) { (v.time(cur.at)) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    section.card {
                        h2 { (t("add_document")) }
                        form method="post" action=(base) {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            (files_field(v.lang, "dfile"))
                            label for="dtitle" { (t("title")) " " span.meta { (t("optional")) } }
                            input id="dtitle" name="title" maxlength="300";
                            label for="dfolder" { (t("folder")) }
                            input id="dfolder" name="folder" value=(folder) maxlength="200" list="folders";
                            datalist id="folders" { @for f in &lib.folders { option value=(f) {} } }
                            label for="dnote" { (t("version_note")) " " span.meta { (t("optional")) } }
                            input id="dnote" name="note" maxlength="300";
                            button type="submit" { (t("add_document")) }
                        }
                    }
                }
                aside {
                    section.card {
                        h2 { (t("folders")) }
                        ul.folders {
                            li { a href=(base) aria-current=[folder.is_empty().then_some("page")] { (t("all_documents")) } }
                            @for f in &lib.folders {
                                li style={ "padding-left:" (f.matches('/').count()) "rem" } {
                                    a href={ (base) "?folder=" (crate::params::percent_encode(f)) }
                                        aria-current=[(folder == *f).then_some("page")] {
                                        (f.rsplit('/').next().unwrap_or(f))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct NewDocumentForm {
    #[serde(default)]
    attachments: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    folder: String,
    #[serde(default)]
    note: String,
}

/// The one file a library form sends.
fn one_file(field: &str) -> Result<String, NodeError> {
    let ids = file_ids(field);
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(NodeError::Invalid("choose a file".into())),
        _ => Err(NodeError::Invalid("one file at a time".into())),
    }
}

/// `POST /groups/{id}/library`.
pub(super) async fn document_create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<NewDocumentForm>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Group),
        move |s, me, g| async move {
            let file = one_file(&f.attachments)?;
            s.add_document(&me, &g, &f.folder, &f.title, &f.note, &file)
                .await
        },
        |_, d| format!("/documents/{d}"),
    )
    .await
}

/// `GET /documents/{id}`: a document, its versions, and its forms.
pub(super) async fn document_page(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
) -> Response {
    let t = |k| v.lang.t(k);
    let Ok(did) = crate::params::doc_id(&id, DocKind::Thread) else {
        return not_found(&v);
    };
    let Ok(d) = state.service.document(&v.who(), &did).await else {
        return not_found(&v);
    };
    let Ok(thread) = state.service.thread(&v.who(), &did).await else {
        return not_found(&v);
    };
    let library = format!("/groups/{}/library", thread.group);
    page(
        v.lang,
        &d.title,
        Some(&v),
        html! {
            p.meta {
                a href=(library) { (t("library")) }
                @if !d.folder.is_empty() {
                    " · " a href={ (library) "?folder=" (crate::params::percent_encode(&d.folder)) } { (d.folder) }
                }
            }
            h1 { (super::community::mark_badge(v.lang, thread.mark)) (d.title) }
            (super::community::mark_controls(&v, &thread))
            @if let Some(cur) = d.current() {
                p { (t("current_version")) " " (cur.number) " · " (file_link(cur)) }
            }
            section.card {
                h2 { (t("versions")) }
                ol.versions reversed {
                    @for ver in d.versions.iter().rev() {
                        li {
                            strong { (t("version")) " " (ver.number) } " · "
                            a href={ "/people/" (ver.author) } { "@" (ver.author) } " · "
                            time datetime=(rfc3339(ver.at)) { (v.time(ver.at)) }
                            br; (ver.note) br; (file_link(ver))
                            @if Some(ver.number) != d.current().map(|c| c.number) {
                                " · "
                                form.inline method="post" action={ "/documents/" (d.thread) "/restore/" (ver.post) } {
                                    input type="hidden" name="_csrf" value=(v.csrf);
                                    button.link type="submit" { (t("restore")) }
                                }
                            }
                        }
                    }
                }
            }
            div.columns {
                section.card {
                    h2 { (t("new_version")) }
                    form method="post" action={ "/documents/" (d.thread) "/versions" } {
                        input type="hidden" name="_csrf" value=(v.csrf);
                        (files_field(v.lang, "vfile"))
                        label for="vnote" { (t("version_note")) }
                        input id="vnote" name="note" maxlength="300";
                        button type="submit" { (t("upload_version")) }
                    }
                }
                section.card {
                    h2 { (t("move_document")) }
                    form method="post" action={ "/documents/" (d.thread) "/folder" } {
                        input type="hidden" name="_csrf" value=(v.csrf);
                        label for="mfolder" { (t("folder")) }
                        input id="mfolder" name="folder" value=(d.folder) maxlength="200";
                        button type="submit" { (t("move")) }
                    }
                }
            }
            p { a href={ "/threads/" (d.thread) } { (t("discussion")) } }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct VersionForm {
    #[serde(default)]
    attachments: String,
    #[serde(default)]
    note: String,
}

/// `POST /documents/{id}/versions`.
pub(super) async fn version_create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<VersionForm>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, d| async move {
            let file = one_file(&f.attachments)?;
            s.new_version(&me, &d, &f.note, &file).await
        },
        |d, _| format!("/documents/{d}"),
    )
    .await
}

/// `POST /documents/{id}/restore/{version}`.
pub(super) async fn version_restore(
    State(state): State<AppState>,
    Path((id, version)): Path<(String, String)>,
    CsrfForm(v, _): CsrfForm<Button>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, d| async move { s.restore_version(&me, &d, &version).await },
        |d, _| format!("/documents/{d}"),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct MoveForm {
    #[serde(default)]
    folder: String,
}

/// `POST /documents/{id}/folder`.
pub(super) async fn document_move(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<MoveForm>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, d| async move { s.move_document(&me, &d, &f.folder).await },
        |d, _| format!("/documents/{d}"),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct FollowForm {
    url: String,
}

/// `POST /groups/{id}/feeds`: the group follows an outside feed (its owners).
pub(super) async fn feed_follow(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<FollowForm>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Group),
        move |s, me, g| async move { s.follow_feed(&me, &g, &f.url).await.map(|_| ()) },
        |g, _| format!("/groups/{g}"),
    )
    .await
}

/// `POST /groups/{id}/feeds/{feed}/remove`.
pub(super) async fn feed_unfollow(
    State(state): State<AppState>,
    Path((id, feed)): Path<(String, String)>,
    CsrfForm(v, _): CsrfForm<Button>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Group),
        move |s, me, g| async move { s.unfollow_feed(&me, &g, &feed).await },
        |g, _| format!("/groups/{g}"),
    )
    .await
}
