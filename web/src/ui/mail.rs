//! The employee's mail settings page: which notifications are mailed (when still unseen
//! after the site's delay), the digest, the language; and a digest on demand.

use axum::extract::State;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use weft_node::service::{DigestEvery, MailPrefs};

use super::layout::{fail, page};
use crate::extract::{Button, CsrfForm, Viewer};
use crate::state::AppState;

/// `GET /settings/mail`.
pub(super) async fn mail_page(State(state): State<AppState>, v: Viewer) -> Response {
    let p = match state.service.mail_prefs(&v.who()) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let sends = state.service.sends_mail();
    let lang = v.lang;
    let t = |k| lang.t(k);
    page(
        lang,
        t("mail_settings"),
        Some(&v),
        html! {
            h1 { (t("mail_settings")) }
            @if !sends { p.notice { (t("mail_off_here")) } }
            section.card {
                form method="post" action="/settings/mail" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    fieldset {
                        legend { (t("mail_when")) }
                        @for (name, key, on) in [
                            ("mentions", "mail_mentions", p.mentions),
                            ("replies", "mail_replies", p.replies),
                            ("groups", "mail_groups", p.groups),
                        ] {
                            label.choice {
                                input type="checkbox" name=(name) value="1" checked[on];
                                " " (t(key))
                            }
                        }
                    }
                    label for="digest" { (t("mail_digest")) }
                    select id="digest" name="digest" {
                        @for (value, key) in [("off", "digest_off"), ("daily", "digest_daily"), ("weekly", "digest_weekly")] {
                            option value=(value) selected[p.digest.as_str() == value] { (t(key)) }
                        }
                    }
                    label for="mlang" { (t("mail_lang")) }
                    select id="mlang" name="lang" {
                        option value="" selected[p.lang.is_none()] { (t("mail_lang_profile")) }
                        option value="en" selected[p.lang.as_deref() == Some("en")] { "English" }
                        option value="fr" selected[p.lang.as_deref() == Some("fr")] { "Français" }
                    }
                    button type="submit" { (t("save")) }
                }
            }
            @if sends {
                form method="post" action="/settings/mail/digest" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    button.secondary type="submit" { (t("digest_now")) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct MailForm {
    #[serde(default)]
    mentions: Option<String>,
    #[serde(default)]
    replies: Option<String>,
    #[serde(default)]
    groups: Option<String>,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    lang: String,
}

/// `POST /settings/mail`.
pub(super) async fn mail_save(
    State(state): State<AppState>,
    CsrfForm(v, f): CsrfForm<MailForm>,
) -> Response {
    let prefs = MailPrefs {
        mentions: f.mentions.is_some(),
        replies: f.replies.is_some(),
        groups: f.groups.is_some(),
        digest: DigestEvery::parse(&f.digest).unwrap_or_default(),
        lang: Some(f.lang).filter(|l| l == "en" || l == "fr"),
    };
    match state.service.set_mail_prefs(&v.who(), prefs).await {
        Ok(()) => crate::cookies::redirect("/settings/mail"),
        Err(e) => fail(e),
    }
}

/// `POST /settings/mail/digest`: the digest, now.
pub(super) async fn digest_now(
    State(state): State<AppState>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    match state.service.send_digest_now(&v.who()).await {
        Ok(()) => crate::cookies::redirect("/settings/mail"),
        Err(e) => fail(e),
    }
}
