//! People's pages: the directory's fields (read only), the employee's own fields, their
//! picture; editing one's own.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{PreEscaped, html};
use serde::Deserialize;

use super::layout::{fail, not_found, page};
use crate::extract::{CsrfForm, Viewer};
use crate::markdown;
use crate::state::AppState;

/// `GET /people/{id}`.
pub(super) async fn person_page(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
) -> Response {
    let lang = v.lang;
    let Ok(found) = state.service.person_page(&v.who(), &id).await else {
        return not_found(&v);
    };
    let (e, p) = (found.person.employee, found.person.profile);
    let (manager, following, reports) = (found.manager, found.following, found.reports);
    let wall = state.service.wall(&v.who(), &id).await.ok();
    let t = |k| lang.t(k);
    let mine = e.id == v.employee;
    let tags = |title: &'static str, items: &[String]| {
        html! {
            @if !items.is_empty() {
                h2 { (t(title)) }
                ul.tags { @for x in items { li { (x) } } }
            }
        }
    };
    page(
        lang,
        &e.display_name,
        Some(&v),
        html! {
            section.card.profile {
                div.heading {
                    div.who {
                        @if let Some(h) = &p.photo {
                            img.avatar src={ "/api/v1/people/" (e.id) "/photo?v=" (h) } alt=(format!("{} — {}", t("photo"), e.display_name)) width="96" height="96";
                        } @else {
                            span.avatar.initials aria-hidden="true" { (initials(&e.display_name)) }
                        }
                        div {
                            h1 { (e.display_name) }
                            p.meta { (e.title) @if !e.department.is_empty() { " · " (e.department) } }
                        }
                    }
                    @if !mine {
                        form method="post" action={ "/people/" (e.id) "/follow" } {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            input type="hidden" name="on" value=(if following { "0" } else { "1" });
                            button.secondary type="submit" aria-pressed=(following) {
                                @if following { (t("unfollow")) } @else { (t("follow")) }
                            }
                        }
                    }
                }
                dl {
                    dt { (t("site")) } dd { (e.site) }
                    dt { (t("email")) } dd { a href={ "mailto:" (e.email) } { (e.email) } }
                    @if !e.phone.is_empty() { dt { (t("phone")) } dd { a href={ "tel:" (e.phone) } { (e.phone) } } }
                    @if let Some((mid, mname)) = &manager {
                        dt { (t("manager")) } dd { a href={ "/people/" (mid) } { (mname) } }
                    }
                }
                @if !p.about.is_empty() { h2 { (t("about")) } div.body { (PreEscaped(markdown::render(&p.about))) } }
                (tags("expertise", &p.expertise))
                (tags("interests", &p.interests))
                (tags("languages", &p.languages))
            }
            (super::social::org_chart(&v, manager.as_ref(), &e.display_name, &reports))
            @if let Some(w) = &wall { (super::social::wall_section(&v, w, &e.display_name)) }
            @if mine {
                section.card {
                    h2 { (t("edit_profile")) }
                    p.meta { (t("directory_fields")) }
                    form method="post" action="/me/profile" {
                        input type="hidden" name="_csrf" value=(v.csrf);
                        label for="about" { (t("about")) }
                        textarea id="about" name="about" rows="4" { (p.about) }
                        label for="expertise" { (t("expertise_hint")) }
                        input id="expertise" name="expertise" value=(p.expertise.join(", "));
                        label for="interests" { (t("interests_hint")) }
                        input id="interests" name="interests" value=(p.interests.join(", "));
                        label for="languages" { (t("languages_hint")) }
                        input id="languages" name="languages" value=(p.languages.join(", "));
                        label for="locale" { (t("ui_language")) }
                        select id="locale" name="locale" {
                            option value="" selected[p.locale.is_none()] { (t("browser_language")) }
                            option value="en" selected[p.locale.as_deref() == Some("en")] lang="en" { "English" }
                            option value="fr" selected[p.locale.as_deref() == Some("fr")] lang="fr" { "Français" }
                        }
                        label for="tz" { (t("time_zone")) }
                        select id="tz" name="time_zone" {
                            option value="" selected[p.time_zone.is_none()] { (t("browser_time_zone")) }
                            @for z in crate::time::zone_names() {
                                option value=(z) selected[p.time_zone.as_deref() == Some(z.as_str())] { (z) }
                            }
                        }
                        button type="submit" { (t("save")) }
                    }
                    h3 { (t("photo")) }
                    p.meta { (t("photo_hint")) }
                    div.photo-edit {
                        label for="photo" { (t("choose_photo")) }
                        input id="photo" type="file" accept="image/jpeg,image/png,image/webp" data-photo;
                        p.error role="alert" id="photo-error" hidden {}
                    }
                    noscript { p.muted { (t("photo_needs_js")) } }
                }
            }
        },
    )
}

/// "Hélène Dupré" → "HD".
pub(super) fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

#[derive(Deserialize)]
pub(super) struct ProfileForm {
    #[serde(default)]
    about: String,
    #[serde(default)]
    expertise: String,
    #[serde(default)]
    interests: String,
    #[serde(default)]
    languages: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    time_zone: String,
}

fn items(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

/// `POST /me/profile`.
pub(super) async fn profile_save(
    State(state): State<AppState>,
    CsrfForm(v, f): CsrfForm<ProfileForm>,
) -> Response {
    let (expertise, interests, languages) = (
        items(&f.expertise),
        items(&f.interests),
        items(&f.languages),
    );
    let locale = match f.locale.as_str() {
        "en" | "fr" | "" => f.locale.clone(),
        _ => String::new(),
    };
    let edit = weft_node::service::ProfileEdit {
        about: Some(f.about),
        expertise: Some(expertise),
        interests: Some(interests),
        languages: Some(languages),
        locale: Some(locale),
        time_zone: Some(if crate::time::zone(&f.time_zone).is_some() {
            f.time_zone.trim().to_owned()
        } else {
            String::new()
        }),
        ..Default::default()
    };
    match state.service.update_profile(&v.who(), edit).await {
        Ok(()) => crate::cookies::redirect(&format!("/people/{}", v.employee)),
        Err(e) => fail(e),
    }
}
