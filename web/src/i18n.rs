//! The UI's words in English and French. The language comes from the `weft_lang` cookie (set
//! from the language links at the bottom of every page), else from the browser's
//! `Accept-Language`, else English.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum_extra::extract::cookie::CookieJar;

/// The cookie that holds the language picked at the bottom of the pages.
pub const COOKIE: &str = "weft_lang";

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// `en` or `fr`.
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The language chosen with the links at the bottom of the pages, if any.
    pub fn chosen(jar: &CookieJar) -> Option<Lang> {
        jar.get(COOKIE).and_then(|c| Lang::parse(c.value()))
    }

    /// The language a request asks for: the one chosen, else the browser's first.
    pub fn of(jar: &CookieJar, headers: &HeaderMap) -> Lang {
        if let Some(l) = Lang::chosen(jar) {
            return l;
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let first = accept
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if first.starts_with("fr") {
            Lang::Fr
        } else {
            Lang::En
        }
    }

    /// A UI text.
    pub fn t(self, key: &str) -> &'static str {
        let (en, fr) = match key {
            "feed" => ("Home", "Accueil"),
            "groups" => ("Groups", "Groupes"),
            "logout" => ("Log out", "Se déconnecter"),
            "login" => ("Log in", "Se connecter"),
            "login_hint" => ("Your directory id or e-mail", "Votre identifiant ou e-mail"),
            "password" => ("Password", "Mot de passe"),
            "bad_login" => (
                "Wrong login or password.",
                "Identifiant ou mot de passe incorrect.",
            ),
            "too_many" => (
                "Too many failed attempts. Try again later.",
                "Trop d'échecs. Réessayez plus tard.",
            ),
            "busy" => (
                "Too many logins at once. Try again in a moment.",
                "Trop de connexions en même temps. Réessayez dans un instant.",
            ),
            "welcome" => (
                "Your network, at every site.",
                "Votre réseau, sur chaque site.",
            ),
            "feed_title" => (
                "Latest from your groups",
                "Les dernières nouvelles de vos groupes",
            ),
            "feed_empty" => (
                "Nothing yet: join a group to see its threads here.",
                "Rien pour l'instant : rejoignez un groupe pour voir ses discussions ici.",
            ),
            "replies" => ("replies", "réponses"),
            "in" => ("in", "dans"),
            "new_group" => ("Create a group", "Créer un groupe"),
            "name" => ("Name", "Nom"),
            "description" => ("Description", "Description"),
            "visibility" => ("Visibility", "Visibilité"),
            "public" => (
                "Public — anyone reads and joins",
                "Public — tout le monde lit et rejoint",
            ),
            "private" => (
                "Private — listed, members only",
                "Privé — visible, réservé aux membres",
            ),
            "secret" => ("Secret — invitation only", "Secret — sur invitation"),
            "create" => ("Create", "Créer"),
            "join" => ("Join", "Rejoindre"),
            "ask_join" => ("Ask to join", "Demander à rejoindre"),
            "leave" => ("Leave", "Quitter"),
            "member" => ("member", "membre"),
            "members" => ("Members", "Membres"),
            "sites" => ("Sites", "Sites"),
            "threads" => ("Threads", "Discussions"),
            "new_thread" => ("Start a thread", "Nouvelle discussion"),
            "title" => ("Title", "Titre"),
            "message" => (
                "Message (Markdown, @mentions, #topics)",
                "Message (Markdown, @mentions, #sujets)",
            ),
            "post" => ("Post", "Publier"),
            "reply" => ("Reply", "Répondre"),
            "like" => ("Like", "J'aime"),
            "unlike" => ("Unlike", "Je n'aime plus"),
            "deleted" => ("This post was deleted.", "Ce message a été supprimé."),
            "hidden" => (
                "This post was hidden by a moderator.",
                "Ce message a été masqué par un modérateur.",
            ),
            "members_only" => (
                "The content of this group is for its members.",
                "Le contenu de ce groupe est réservé à ses membres.",
            ),
            "profile" => ("Profile", "Profil"),
            "about" => ("About", "À propos"),
            "expertise" => ("Expertise", "Expertises"),
            "site" => ("Site", "Site"),
            "department" => ("Department", "Service"),
            "email" => ("E-mail", "E-mail"),
            "phone" => ("Phone", "Téléphone"),
            "not_found" => ("Not found.", "Introuvable."),
            "invite" => ("Invite", "Inviter"),
            "invite_who" => (
                "Invite a colleague (directory id)",
                "Inviter un collègue (identifiant)",
            ),
            "invited" => ("Invited", "Invités"),
            "edit_profile" => ("Edit your profile", "Modifier votre profil"),
            "expertise_hint" => (
                "Expertise (comma-separated)",
                "Expertises (séparées par des virgules)",
            ),
            "save" => ("Save", "Enregistrer"),
            "topic_empty" => (
                "No post about this topic that you may read.",
                "Aucun message sur ce sujet parmi ceux que vous pouvez lire.",
            ),
            "search" => ("Search", "Rechercher"),
            "search_hint" => (
                "Search posts, groups, people…",
                "Chercher messages, groupes, personnes…",
            ),
            "no_results" => (
                "Nothing found that you may see.",
                "Rien trouvé parmi ce que vous pouvez voir.",
            ),
            "post_kind" => ("Post", "Message"),
            "group_kind" => ("Group", "Groupe"),
            "person_kind" => ("Person", "Personne"),
            "requested" => (
                "Your request was sent to the owners.",
                "Votre demande a été envoyée aux propriétaires.",
            ),
            "notifications" => ("Notifications", "Notifications"),
            "no_notifications" => (
                "Nothing yet. Mentions, replies in threads you follow, join requests and invitations will show here.",
                "Rien pour l'instant. Les mentions, les réponses dans les discussions suivies, les demandes d'adhésion et les invitations apparaîtront ici.",
            ),
            "new" => ("new", "nouveau"),
            "mark_all_read" => ("Mark all as read", "Tout marquer comme lu"),
            "follow" => ("Follow", "Suivre"),
            "unfollow" => ("Following ✓", "Suivi ✓"),
            "edit" => ("Edit", "Modifier"),
            "edited" => ("edited", "modifié"),
            "delete" => ("Delete", "Supprimer"),
            "edit_post" => ("Edit your post", "Modifier votre message"),
            "cancel" => ("Cancel", "Annuler"),
            "join_requests" => ("Join requests", "Demandes d'adhésion"),
            "approve" => ("Approve", "Accepter"),
            "decline" => ("Decline", "Refuser"),
            "remove" => ("Remove", "Retirer"),
            "attach_files" => ("Attach files", "Joindre des fichiers"),
            "library" => ("Library", "Bibliothèque"),
            "outside_feeds" => ("Outside feeds", "Flux extérieurs"),
            "no_outside_feeds" => (
                "The group follows no outside feed. Its new items would be posted here.",
                "Le groupe ne suit aucun flux extérieur. Ses nouveaux articles seraient publiés ici.",
            ),
            "follow_feed" => ("Follow an RSS or Atom feed", "Suivre un flux RSS ou Atom"),
            "open_library" => ("The group's documents", "Les documents du groupe"),
            "no_documents" => (
                "No documents here yet.",
                "Aucun document ici pour l'instant.",
            ),
            "document" => ("Document", "Document"),
            "folder" => ("Folder", "Dossier"),
            "folders" => ("Folders", "Dossiers"),
            "all_documents" => ("All documents", "Tous les documents"),
            "version" => ("Version", "Version"),
            "versions" => ("Versions", "Versions"),
            "current_version" => ("Current version:", "Version actuelle :"),
            "changed" => ("Changed", "Modifié"),
            "add_document" => ("Add a document", "Ajouter un document"),
            "optional" => ("(optional)", "(facultatif)"),
            "version_note" => ("What changed", "Ce qui a changé"),
            "new_version" => ("A new version", "Une nouvelle version"),
            "upload_version" => ("Upload the version", "Envoyer la version"),
            "restore" => ("Restore this version", "Rétablir cette version"),
            "move_document" => ("File elsewhere", "Classer ailleurs"),
            "move" => ("Move", "Déplacer"),
            "discussion" => ("Discuss this document", "Discuter de ce document"),
            "atom_feed" => (
                "Follow in a feed reader (Atom)",
                "Suivre dans un lecteur de flux (Atom)",
            ),
            "uploading" => ("Sending", "Envoi de"),
            "upload_failed" => ("Not sent", "Non envoyé"),
            "attachments" => ("Attached files", "Fichiers joints"),
            "download" => ("Download", "Télécharger"),
            "owner" => ("owner", "propriétaire"),
            "settings" => ("Group settings", "Paramètres du groupe"),
            "request_pending" => (
                "Your request to join is waiting for an owner.",
                "Votre demande d'adhésion attend un propriétaire.",
            ),
            "withdraw" => ("Withdraw", "Retirer la demande"),
            "no_threads" => ("No threads yet.", "Pas encore de discussion."),
            "charter" => ("Usage charter", "Charte d'utilisation"),
            "charter_intro" => (
                "Before you start, please read and accept the charter set by your company.",
                "Avant de commencer, lisez et acceptez la charte fixée par votre entreprise.",
            ),
            "charter_accept" => ("I accept", "J'accepte"),
            "setup" => ("Choose your password", "Choisissez votre mot de passe"),
            "setup_intro" => ("Account:", "Compte :"),
            "setup_gone" => (
                "This link has expired or was already used. Ask your IT team for a new one.",
                "Ce lien a expiré ou a déjà servi. Demandez-en un nouveau à votre équipe informatique.",
            ),
            "new_password" => (
                "New password (at least 10 characters)",
                "Nouveau mot de passe (10 caractères au moins)",
            ),
            "password_again" => ("The same again", "Le même, à nouveau"),
            "setup_save" => ("Save and log in", "Enregistrer et se connecter"),
            "password_short" => (
                "The password must have at least 10 characters.",
                "Le mot de passe doit avoir au moins 10 caractères.",
            ),
            "password_mismatch" => (
                "The two passwords differ.",
                "Les deux mots de passe diffèrent.",
            ),
            "photo" => ("Photo", "Photo"),
            "older" => ("Older threads", "Discussions plus anciennes"),
            "find_group" => ("Find a group", "Trouver un groupe"),
            "manager" => ("Manager", "Responsable"),
            "interests" => ("Interests", "Centres d'intérêt"),
            "languages" => ("Languages", "Langues"),
            "interests_hint" => (
                "Interests (separated by commas)",
                "Centres d'intérêt (séparés par des virgules)",
            ),
            "languages_hint" => (
                "Languages you speak (separated by commas)",
                "Langues parlées (séparées par des virgules)",
            ),
            "ui_language" => ("Language of Weft", "Langue de Weft"),
            "browser_language" => ("As my browser", "Comme mon navigateur"),
            "directory_fields" => (
                "Your name, site, e-mail, phone, title, department and manager come from the company directory.",
                "Vos nom, site, e-mail, téléphone, fonction, service et responsable viennent de l'annuaire de l'entreprise.",
            ),
            "photo_hint" => (
                "JPEG, PNG or WebP; it is cropped to a square and scaled down before it is sent.",
                "JPEG, PNG ou WebP ; elle est recadrée en carré et réduite avant l'envoi.",
            ),
            "choose_photo" => ("Choose a photo", "Choisir une photo"),
            "photo_needs_js" => (
                "Changing the photo needs JavaScript.",
                "Changer de photo demande JavaScript.",
            ),
            "add_poll" => ("Add a poll", "Ajouter un sondage"),
            "poll" => ("Poll", "Sondage"),
            "poll_question" => ("Question", "Question"),
            "poll_options" => (
                "Options, one per line (2 to 20)",
                "Choix, un par ligne (2 à 20)",
            ),
            "poll_multiple" => (
                "Voters may choose several options",
                "Plusieurs choix possibles",
            ),
            "poll_after" => (
                "Show the results only to those who voted",
                "Résultats visibles seulement après avoir voté",
            ),
            "poll_closes" => ("Voting ends", "Fin du vote"),
            "poll_never" => ("Never", "Jamais"),
            "poll_1d" => ("In a day", "Dans un jour"),
            "poll_3d" => ("In three days", "Dans trois jours"),
            "poll_1w" => ("In a week", "Dans une semaine"),
            "poll_one" => ("One choice", "Un seul choix"),
            "poll_several" => ("Several choices", "Plusieurs choix"),
            "voters" => ("voters", "votants"),
            "poll_closed" => ("closed on", "terminé le"),
            "poll_closes_at" => ("ends", "se termine le"),
            "poll_results_after" => (
                "The results show once you have voted.",
                "Les résultats s'affichent une fois votre vote donné.",
            ),
            "vote" => ("Vote", "Voter"),
            "change_vote" => ("Change my vote", "Changer mon vote"),
            "time_zone" => ("Time zone", "Fuseau horaire"),
            "browser_time_zone" => ("As my browser", "Comme mon navigateur"),
            "agenda" => ("Agenda", "Agenda"),
            "r_like" => ("Like", "J'aime"),
            "r_love" => ("Love", "J'adore"),
            "r_bravo" => ("Bravo", "Bravo"),
            "r_laugh" => ("Funny", "Drôle"),
            "r_insightful" => ("Insightful", "Instructif"),
            "r_support" => ("Support", "Soutien"),
            "react" => ("React…", "Réagir…"),
            "bookmark" => ("Bookmark", "Garder"),
            "unbookmark" => ("Bookmarked", "Gardé"),
            "bookmarks" => ("Bookmarks", "Favoris"),
            "no_bookmarks" => (
                "Nothing kept yet: “Bookmark” under a post keeps it here.",
                "Rien de gardé : « Garder » sous un message le met ici.",
            ),
            "saved" => ("Kept", "Gardé le"),
            "pin" => ("Pin to the top", "Épingler"),
            "unpin" => ("Unpin", "Désépingler"),
            "pinned" => ("Pinned", "Épinglé"),
            "question" => ("Question", "Question"),
            "ask_question" => (
                "A question: I will pick the best answer",
                "Une question : je choisirai la meilleure réponse",
            ),
            "best_answer" => ("Best answer", "Meilleure réponse"),
            "mark_best_answer" => ("Best answer", "Meilleure réponse"),
            "not_best_answer" => ("Not the best answer", "Plus la meilleure réponse"),
            "hide" => ("Hide", "Masquer"),
            "show_again" => ("Show again", "Afficher à nouveau"),
            "wall" => ("Wall", "Mur"),
            "wall_of" => ("On the wall of", "Sur le mur de"),
            "wall_write" => ("A word for", "Un mot pour"),
            "wall_write_own" => ("Write on your wall", "Écrire sur votre mur"),
            "wall_empty" => (
                "Nobody has written here yet.",
                "Personne n'a encore écrit ici.",
            ),
            "announcement" => ("Announcement", "Annonce"),
            "until" => ("until", "jusqu'au"),
            "dismiss" => ("Dismiss", "Masquer"),
            "make_announcement" => ("Make an announcement", "Publier une annonce"),
            "announce_hint" => (
                "An announcement is shown above the feed of everyone it is for until it expires or each reader dismisses it.",
                "Une annonce s'affiche en haut du fil de tous ceux à qui elle s'adresse, jusqu'à son expiration ou jusqu'à ce que chacun la masque.",
            ),
            "audience" => ("For", "Pour"),
            "everyone" => ("Everyone", "Tout le monde"),
            "shown_for" => ("Shown until", "Affichée jusqu'à"),
            "a_month" => ("In a month", "Dans un mois"),
            "announce" => ("Announce", "Annoncer"),
            "directory" => ("People", "Annuaire"),
            "all_sites" => ("All sites", "Tous les sites"),
            "all_departments" => ("All departments", "Tous les services"),
            "job_title" => ("Job title", "Fonction"),
            "people_found" => ("people", "personnes"),
            "more_people" => ("More people", "Plus de personnes"),
            "org_chart" => ("Reporting line", "Organigramme"),
            "when" => ("When", "Quand"),
            "where" => ("Where", "Où"),
            "event" => ("Event", "Événement"),
            "plan_event" => ("Plan an event", "Organiser un événement"),
            "plan" => ("Plan it", "Organiser"),
            "starts" => ("Starts", "Début"),
            "ends" => ("Ends", "Fin"),
            "location" => ("Place or link", "Lieu ou lien"),
            "location_hint" => (
                "Room, address or video link",
                "Salle, adresse ou lien visio",
            ),
            "going" => ("going", "participent"),
            "maybe" => ("maybe", "peut-être"),
            "not_going" => ("not going", "ne viennent pas"),
            "rsvp_yes" => ("I'm going", "J'y vais"),
            "rsvp_maybe" => ("Maybe", "Peut-être"),
            "rsvp_no" => ("Not going", "Je n'y vais pas"),
            "rsvp_withdraw" => ("Withdraw my answer", "Retirer ma réponse"),
            "cancelled" => ("Cancelled", "Annulé"),
            "cancel_event" => ("Cancel the event", "Annuler l'événement"),
            "change_event" => ("Change the event", "Modifier l'événement"),
            "upcoming_events" => ("Upcoming events", "Événements à venir"),
            "past_events" => ("Past events", "Événements passés"),
            "group_agenda" => ("The group's agenda", "L'agenda du groupe"),
            "download_ics" => ("Download (iCalendar)", "Télécharger (iCalendar)"),
            "no_events" => ("No events planned.", "Aucun événement prévu."),
            "subscribe" => ("Subscribe in your calendar", "S'abonner dans votre agenda"),
            "subscribe_hint" => (
                "Outlook, Google Calendar or Apple Calendar can subscribe to this address: your groups' events and those you said you would attend appear there. Keep it to yourself.",
                "Outlook, Google Agenda ou Calendrier d'Apple peuvent s'abonner à cette adresse : les événements de vos groupes et ceux auxquels vous avez dit participer y apparaissent. Gardez-la pour vous.",
            ),
            "calendar_address" => ("Calendar address", "Adresse de l'agenda"),
            "open_in_calendar" => (
                "Open in my calendar application",
                "Ouvrir dans mon application d'agenda",
            ),
            "new_calendar_address" => (
                "Make a new address (the old one stops working)",
                "Créer une nouvelle adresse (l'ancienne cesse de fonctionner)",
            ),
            "official" => ("Official", "Officiel"),
            "outdated" => ("Outdated", "Obsolète"),
            "mark_official" => ("Official", "Officiel"),
            "mark_outdated" => ("Outdated", "Obsolète"),
            "hidden_reason" => ("Hidden by a moderator:", "Masqué par un modérateur :"),
            "you_reported" => ("You reported this post.", "Vous avez signalé ce message."),
            "withdraw_report" => ("Withdraw my report", "Retirer mon signalement"),
            "report" => ("Report", "Signaler"),
            "report_reason" => (
                "Why does this post break the rules?",
                "En quoi ce message enfreint-il les règles ?",
            ),
            "charter_read" => ("Read the usage charter", "Lire la charte d'utilisation"),
            "report_send" => ("Send to the moderators", "Envoyer aux modérateurs"),
            "reports_open" => ("reports", "signalements"),
            "moderation_reason" => ("Reason (shown to the author)", "Motif (montré à l'auteur)"),
            "moderation" => ("Moderation", "Modération"),
            "duplicates" => ("Duplicate groups", "Groupes en double"),
            "moderation_intro" => (
                "Posts reported in the groups you moderate, the oldest report first. Hiding a post tells its author why; keeping it closes the reports.",
                "Messages signalés dans les groupes que vous modérez, le plus ancien signalement d'abord. Masquer un message en donne le motif à son auteur ; le garder clôt les signalements.",
            ),
            "queue_empty" => ("Nothing to review.", "Rien à examiner."),
            "kept_reason" => (
                "Reviewed: within the charter",
                "Examiné : conforme à la charte",
            ),
            "keep" => ("Keep", "Garder"),
            "you_member" => ("you are a member", "vous en êtes membre"),
            "similar_groups" => ("Groups like yours", "Des groupes comme le vôtre"),
            "similar_intro" => (
                "These groups, at your site or others, look like the one you are creating. Join one instead, or create yours anyway.",
                "Ces groupes, sur votre site ou ailleurs, ressemblent à celui que vous créez. Rejoignez-en un, ou créez quand même le vôtre.",
            ),
            "join_instead" => ("Join this one", "Rejoindre celui-ci"),
            "create_anyway" => ("Create my group anyway", "Créer quand même mon groupe"),
            "merge_into" => ("Merge into", "Fusionner dans"),
            "duplicates_intro" => (
                "Groups at every site whose names share most of their words, in English or French. Merging one into the other makes its page point there.",
                "Groupes de tous les sites dont les noms partagent la plupart de leurs mots, en anglais ou en français. Fusionner l'un dans l'autre fait pointer sa page vers l'autre.",
            ),
            "no_duplicates" => ("No likely duplicates.", "Aucun doublon probable."),
            "merged_notice" => (
                "This group was merged into another: go to",
                "Ce groupe a été fusionné dans un autre : allez à",
            ),
            "the_other_group" => ("the other group", "l'autre groupe"),
            "unmerge" => ("Undo the merge", "Annuler la fusion"),
            "unsubscribe" => ("Unsubscribe", "Se désabonner"),
            "unsubscribe_intro" => (
                "Stop every mail Weft sends you: notifications and digests. You can turn them on again in your mail settings.",
                "Ne plus recevoir aucun e-mail de Weft : ni notifications ni résumés. Vous pourrez les réactiver dans vos réglages.",
            ),
            "unsubscribe_button" => (
                "Unsubscribe from every mail",
                "Me désabonner de tous les e-mails",
            ),
            "unsubscribed" => ("You are unsubscribed", "Vous êtes désabonné"),
            "unsubscribed_intro" => (
                "Weft will send you no more mail. To choose again:",
                "Weft ne vous enverra plus d'e-mail. Pour choisir à nouveau :",
            ),
            "mail_settings" => ("Mail settings", "Réglages des e-mails"),
            "mail_off_here" => (
                "This site sends no mail yet; your choices apply once it does.",
                "Ce site n'envoie pas encore d'e-mails ; vos choix s'appliqueront dès qu'il le fera.",
            ),
            "mail_when" => (
                "Mail me when I have not seen it in Weft within a few minutes:",
                "M'écrire quand je ne l'ai pas vu dans Weft au bout de quelques minutes :",
            ),
            "mail_mentions" => (
                "Mentions and posts on my wall",
                "Mentions et messages sur mon mur",
            ),
            "mail_replies" => (
                "Replies in threads I follow",
                "Réponses dans les fils que je suis",
            ),
            "mail_groups" => (
                "Invitations, and requests to join my groups",
                "Invitations, et demandes pour rejoindre mes groupes",
            ),
            "mail_digest" => (
                "Digest of what I have not read",
                "Résumé de ce que je n'ai pas lu",
            ),
            "digest_off" => ("None", "Aucun"),
            "digest_daily" => ("Every morning", "Chaque matin"),
            "digest_weekly" => ("Every Monday morning", "Chaque lundi matin"),
            "mail_lang" => ("Language of mails", "Langue des e-mails"),
            "mail_lang_profile" => ("My profile's", "Celle de mon profil"),
            "digest_now" => ("Mail me my digest now", "M'envoyer mon résumé maintenant"),
            "card_intro" => (
                "A private group whose members are at other sites: its content stays there. Ask to join; its owners decide.",
                "Un groupe privé dont les membres sont sur d'autres sites : son contenu y reste. Demandez à le rejoindre ; ses propriétaires décident.",
            ),
            "owners" => ("Owners:", "Propriétaires :"),
            "make_owner" => ("make co-owner", "nommer copropriétaire"),
            "visibility_change" => (
                "Made private, the group stays only at its members' sites: others list it by its card and keep nothing new of it. Made public, it goes to every site.",
                "Rendu privé, le groupe ne reste que sur les sites de ses membres : les autres le voient par sa fiche et n'en reçoivent plus rien. Rendu public, il va sur tous les sites.",
            ),
            "elsewhere" => ("members at other sites", "membres sur d'autres sites"),
            "analytics" => ("Analytics", "Statistiques"),
            "csv_export" => ("Export CSV", "Exporter en CSV"),
            "analytics_intro" => (
                "Every site signs its own employees' weekly figures; this page adds them up. Registered: has logged in; active: used Weft that week; participating: reacted, voted or replied; contributing: started a thread or posted a document.",
                "Chaque site signe les chiffres hebdomadaires de ses employés ; cette page les additionne. Inscrits : se sont connectés ; actifs : ont utilisé Weft dans la semaine ; participants : ont réagi, voté ou répondu ; contributeurs : ont lancé un fil ou publié un document.",
            ),
            "publish_now" => (
                "Publish this site's figures now",
                "Publier maintenant les chiffres de ce site",
            ),
            "chart_weeks" => (
                "The company, week by week",
                "L'entreprise, semaine par semaine",
            ),
            "week" => ("Week", "Semaine"),
            "weeks" => ("weeks", "semaines"),
            "registered" => ("Registered", "Inscrits"),
            "active" => ("Active", "Actifs"),
            "participating" => ("Participating", "Participants"),
            "contributing" => ("Contributing", "Contributeurs"),
            "by_site" => ("By site", "Par site"),
            "no_figures" => ("No figures yet.", "Pas encore de chiffres."),
            "top_groups" => ("Most active groups", "Groupes les plus actifs"),
            "top_topics" => ("Most used topics", "Sujets les plus utilisés"),
            "dormant_groups" => ("Dormant groups", "Groupes en sommeil"),
            "none_dormant" => ("None.", "Aucun."),
            "last_activity" => ("last activity", "dernière activité"),
            _ => ("", ""),
        };
        match self {
            Lang::En => en,
            Lang::Fr => fr,
        }
    }
}

/// The language of a page shown before anyone logs in (a logged-in viewer's also follows
/// their profile: see [`crate::extract::Viewer`]).
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Infallible> {
        Ok(Lang::of(
            &CookieJar::from_headers(&parts.headers),
            &parts.headers,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::Lang;

    /// Every text the pages ask for exists in both languages (an unknown key would show as
    /// nothing).
    #[test]
    fn every_key_the_pages_use_is_translated() {
        let sources = [
            include_str!("ui/layout.rs"),
            include_str!("ui/login.rs"),
            include_str!("ui/feed.rs"),
            include_str!("ui/groups.rs"),
            include_str!("ui/threads.rs"),
            include_str!("ui/search.rs"),
            include_str!("ui/account.rs"),
            include_str!("ui/manage.rs"),
            include_str!("ui/profile.rs"),
            include_str!("ui/events.rs"),
            include_str!("ui/social.rs"),
            include_str!("ui/community.rs"),
            include_str!("ui/mail.rs"),
            include_str!("ui/analytics.rs"),
            include_str!("mail.rs"),
        ];
        let mut keys = Vec::new();
        for src in sources {
            for opener in ["t(\"", "tr(\"", ".t(\""] {
                for part in src.split(opener).skip(1) {
                    if let Some(k) = part.split('"').next()
                        && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        && !k.is_empty()
                    {
                        keys.push(k.to_owned());
                    }
                }
            }
        }
        assert!(keys.len() > 50, "found only {} keys", keys.len());
        for k in keys {
            assert!(!Lang::En.t(&k).is_empty(), "{k} has no English text");
            assert!(!Lang::Fr.t(&k).is_empty(), "{k} has no French text");
        }
    }
}
