//! The demo's seed content: groups of every visibility, threads with replies, mentions, topics
//! and likes, in French and English, from authors at all three sites. Every change is written
//! through the author's own home node, as a signed change, like anything a user does.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use weft_node::crdt::DocId;
use weft_node::{Core, NodeError, NodeHandle};

struct Group {
    name: &'static str,
    description: &'static str,
    visibility: &'static str,
    owner: &'static str,
    members: &'static [&'static str],
    threads: &'static [Thread],
}

struct Thread {
    author: &'static str,
    title: &'static str,
    body: &'static str,
    replies: &'static [(&'static str, &'static str)],
    likes: &'static [&'static str],
}

const GROUPS: &[Group] = &[
    Group {
        name: "All company",
        description: "Announcements and news for everyone at Example Corp. / Les nouvelles de toute l'entreprise.",
        visibility: "public",
        owner: "ydubois",
        members: &[],
        threads: &[Thread {
            author: "ydubois",
            title: "Bienvenue sur Weft / Welcome to Weft",
            body: "Notre réseau social d'entreprise fonctionne désormais sur chaque site, même sans lien WAN. Posez vos questions ici ! #weft\n\nOur enterprise social network now runs at every site. Ask away! @hdupre and @ejohnson are your community managers.",
            replies: &[
                (
                    "jsmith",
                    "Great news from New York. Already found two colleagues working on #kubernetes.",
                ),
                ("pkumar", "Bangalore is on board! Thanks @ydubois."),
                (
                    "hdupre",
                    "N'oubliez pas la charte d'utilisation. Bonne découverte à toutes et à tous !",
                ),
            ],
            likes: &["jsmith", "pkumar", "cmartin", "srao", "ejohnson"],
        }],
    },
    Group {
        name: "IT Transformation",
        description: "Cloud, outils et méthodes : la transformation numérique, site par site.",
        visibility: "public",
        owner: "jlefevre",
        members: &["hdupre", "jsmith", "pkumar", "tbernard", "rsharma"],
        threads: &[
            Thread {
                author: "tbernard",
                title: "Migration vers Kubernetes : retours d'expérience ?",
                body: "Nous migrons les applications du site de Paris vers #kubernetes au T1. Qui a déjà fait ce chemin ? @rsharma peut-être ?",
                replies: &[
                    (
                        "rsharma",
                        "Yes, Bangalore moved 40 services last year. Happy to share our #helm charts and runbooks.",
                    ),
                    (
                        "agupta",
                        "Watch out for persistent volumes; we wrote a guide, I'll post it in the library.",
                    ),
                    ("tbernard", "Merci beaucoup ! On organise une visio jeudi ?"),
                ],
                likes: &["jlefevre", "cmartin", "rsharma"],
            },
            Thread {
                author: "swilliams",
                title: "Single sign-on rollout schedule",
                body: "SSO reaches New York on the 12th, Paris on the 19th and Bangalore on the 26th. #security #sso",
                replies: &[(
                    "plambert",
                    "Le support de Paris sera prêt. Merci pour le planning.",
                )],
                likes: &["kthomas", "jwilson"],
            },
        ],
    },
    Group {
        name: "Key account sales",
        description: "Wins, pipeline and tips for our largest customers.",
        visibility: "public",
        owner: "jsmith",
        members: &["ejohnson"],
        threads: &[Thread {
            author: "mbrown",
            title: "Closed: three-year renewal with a major retailer",
            body: "Team effort across sites — thanks @lmoreau for the European references. #win",
            replies: &[
                (
                    "lmoreau",
                    "Bravo à toute l'équipe ! Le client français était ravi.",
                ),
                ("kpatel", "Great work. APAC would love to reuse the deck."),
            ],
            likes: &["jsmith", "agirard", "kpatel", "hchatterjee"],
        }],
    },
    Group {
        name: "Photo club",
        description: "Partagez vos plus belles photos — sorties, concours et conseils.",
        visibility: "public",
        owner: "ogarnier",
        members: &["hdupre", "cmartin"],
        threads: &[Thread {
            author: "ogarnier",
            title: "Sortie photo samedi au jardin des Plantes",
            body: "Rendez-vous à 10 h devant la grande serre. Tous niveaux bienvenus ! #photo #sortie",
            replies: &[
                ("clegrand", "J'y serai avec mon 50 mm."),
                (
                    "amartinez",
                    "Wish I could join from New York! Post the pictures please.",
                ),
            ],
            likes: &["clegrand", "mroux", "amartinez"],
        }],
    },
    Group {
        name: "Comédiens amateurs",
        description: "La troupe de théâtre de l'entreprise : répétitions, castings, spectacles.",
        visibility: "public",
        owner: "mroux",
        members: &["hdupre"],
        threads: &[Thread {
            author: "mroux",
            title: "Casting pour la pièce de printemps",
            body: "Nous cherchons quatre comédiennes et comédiens pour « Le Dîner de cons ». Aucune expérience requise. #théâtre",
            replies: &[("bchevalier", "Je suis partant pour le rôle de Pignon !")],
            likes: &["ogarnier", "bchevalier"],
        }],
    },
    Group {
        name: "Bangalore engineering",
        description: "Engineering at the Bangalore site: releases, talks and hiring.",
        visibility: "public",
        owner: "pkumar",
        members: &["srao"],
        threads: &[Thread {
            author: "aiyer",
            title: "Tech talk: property-based testing in Rust",
            body: "Friday 4 pm IST, room Kaveri and online. I'll show how we test our sync engine. #rust #testing",
            replies: &[
                ("vreddy", "QA team will be there."),
                (
                    "cmartin",
                    "Pourriez-vous enregistrer la session pour Paris ? #rust",
                ),
            ],
            likes: &["pkumar", "vreddy", "sbanerjee", "cmartin"],
        }],
    },
    Group {
        name: "Data & AI",
        description: "Data science, analytics and machine learning across sites.",
        visibility: "public",
        owner: "owhite",
        members: &["hdupre", "jsmith", "pkumar"],
        threads: &[Thread {
            author: "owhite",
            title: "Who knows about forecasting models?",
            body: "Looking for people with #forecasting and #timeseries experience for a sales planning project. @sbanerjee?",
            replies: &[(
                "sbanerjee",
                "Yes! I built the demand model for APAC. Let's talk.",
            )],
            likes: &["dmiller"],
        }],
    },
    Group {
        name: "Running club",
        description: "Runs, races and training plans. All paces welcome.",
        visibility: "public",
        owner: "rsharma",
        members: &["jsmith", "pkumar"],
        threads: &[Thread {
            author: "rsharma",
            title: "Global 10k challenge this month",
            body: "Log a 10k anywhere in the world before the 30th. Bangalore already has 12 runners! #running",
            replies: &[
                ("jwilson", "Central Park loop counts, right?"),
                (
                    "nfournier",
                    "Paris relève le défi : on court le long de la Seine dimanche.",
                ),
            ],
            likes: &["jwilson", "nfournier", "dnair"],
        }],
    },
    Group {
        name: "Onboarding & mentoring",
        description: "For newcomers and their mentors: questions, tips, buddies.",
        visibility: "public",
        owner: "dnair",
        members: &["hdupre", "ejohnson"],
        threads: &[Thread {
            author: "njackson",
            title: "Buddy programme: mentors wanted",
            body: "We welcome 25 new hires next month across the three sites. Volunteer as a buddy here! #onboarding",
            replies: &[("dnair", "Bangalore has 8 volunteers so far.")],
            likes: &["jgarcia", "dnair"],
        }],
    },
    Group {
        name: "Works council prep",
        description: "Préparation des réunions du CSE (membres uniquement).",
        visibility: "private",
        owner: "fmercier",
        members: &["ebonnet", "jgarcia"],
        threads: &[Thread {
            author: "fmercier",
            title: "Ordre du jour de la réunion de mars",
            body: "Points proposés : accord télétravail, calendrier des congés, budget des activités sociales. @ebonnet merci de compléter.",
            replies: &[
                ("ebonnet", "J'ajoute le point sur la mutuelle."),
                (
                    "jgarcia",
                    "For comparison, I'll share how the New York benefits committee handled this.",
                ),
            ],
            likes: &["ebonnet"],
        }],
    },
    Group {
        name: "Product design guild",
        description: "Designers and product managers share critiques and research.",
        visibility: "private",
        owner: "adavis",
        members: &["mmenon", "clegrand", "amartinez"],
        threads: &[Thread {
            author: "mmenon",
            title: "Design critique: the new onboarding flow",
            body: "Figma link in the library. Feedback by Wednesday please. #design",
            replies: &[("clegrand", "Très clair. Je proposerais un écran de moins.")],
            likes: &["adavis", "amartinez"],
        }],
    },
    Group {
        name: "Leadership offsite",
        description: "Planning the leadership offsite (invitation only).",
        visibility: "secret",
        owner: "ydubois",
        members: &["jsmith", "pkumar"],
        threads: &[Thread {
            author: "ydubois",
            title: "Dates and venue",
            body: "Proposition : deux jours en juin, près de Lisbonne. Your views?",
            replies: &[
                ("pkumar", "June works for Bangalore."),
                ("jsmith", "Fine with me."),
            ],
            likes: &[],
        }],
    },
];

/// A poll started as a thread, and the votes cast at each voter's home site.
struct Poll {
    group: &'static str,
    author: &'static str,
    title: &'static str,
    question: &'static str,
    options: &'static [&'static str],
    multiple: bool,
    /// Hours from the seeding until it closes (none: open).
    closes_in_hours: Option<i64>,
    votes: &'static [(&'static str, &'static [&'static str])],
}

const POLLS: &[Poll] = &[
    Poll {
        group: "All company",
        author: "hdupre",
        title: "Sondage : le séminaire 2027 / Poll: the 2027 seminar",
        question: "Où organiser le séminaire 2027 ? / Where should the 2027 seminar be?",
        options: &["Paris", "New York", "Bangalore", "En ligne / Online"],
        multiple: false,
        closes_in_hours: Some(7 * 24),
        // Votes from the three sites.
        votes: &[
            ("cmartin", &["1"]),
            ("tbernard", &["1"]),
            ("jsmith", &["2"]),
            ("ejohnson", &["4"]),
            ("pkumar", &["3"]),
            ("srao", &["3"]),
            ("aiyer", &["1"]),
        ],
    },
    Poll {
        group: "IT Transformation",
        author: "jsmith",
        title: "Which tools should we pilot next quarter?",
        question: "Which tools should we pilot next quarter? (several choices)",
        options: &[
            "Kubernetes platform",
            "Internal developer portal",
            "Feature flags",
        ],
        multiple: true,
        closes_in_hours: None,
        votes: &[
            ("hdupre", &["1", "2"]),
            ("pkumar", &["1"]),
            ("jlefevre", &["2", "3"]),
        ],
    },
];

/// An event planned in a group, and the answers given at each person's home site.
struct Event {
    group: &'static str,
    author: &'static str,
    title: &'static str,
    description: &'static str,
    /// Days from the seeding, and the hour (in `time_zone`) it starts at.
    in_days: i64,
    hour: i64,
    minutes: i64,
    time_zone: &'static str,
    /// The UTC offset of `time_zone` on that day, in minutes (the seed needs no time zone
    /// database: the demo's zones keep one offset all winter).
    utc_offset_minutes: i64,
    location: &'static str,
    rsvps: &'static [(&'static str, &'static str)],
}

const EVENTS: &[Event] = &[
    Event {
        group: "Running club",
        author: "nfournier",
        title: "Course du dimanche le long de la Seine / Sunday run along the Seine",
        description: "10 km à allure tranquille, départ du pont de Sèvres. Tous niveaux ! #running",
        in_days: 4,
        hour: 9,
        minutes: 30,
        time_zone: "Europe/Paris",
        utc_offset_minutes: 60,
        location: "Pont de Sèvres, Boulogne-Billancourt",
        rsvps: &[
            ("rsharma", "yes"),
            ("jwilson", "maybe"),
            ("cmartin", "yes"),
            ("pkumar", "no"),
        ],
    },
    Event {
        group: "Bangalore engineering",
        author: "aiyer",
        title: "Tech talk: property-based testing in Rust",
        description: "Room Kaveri and online. I'll show how we test our sync engine. #rust #testing",
        in_days: 6,
        hour: 16,
        minutes: 0,
        time_zone: "Asia/Kolkata",
        utc_offset_minutes: 330,
        location: "https://meet.example.com/rust-talk",
        rsvps: &[
            ("vreddy", "yes"),
            ("cmartin", "yes"),
            ("jsmith", "maybe"),
            ("hdupre", "yes"),
        ],
    },
];

type Handles = BTreeMap<String, (NodeHandle, SocketAddr)>;

fn nonce() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// Runs `f` as `employee` at their home node.
async fn at_home<T: Send + 'static>(
    handles: &Handles,
    homes: &BTreeMap<String, String>,
    employee: &str,
    f: impl FnOnce(&mut Core) -> Result<T, NodeError> + Send + 'static,
) -> Result<T> {
    let site = homes
        .get(employee)
        .with_context(|| format!("{employee} is not in the directory"))?;
    let (h, _) = handles
        .get(site)
        .with_context(|| format!("no node for {site}"))?;
    h.call(f)
        .await?
        .with_context(|| format!("seeding as {employee}"))
}

/// Writes the seed content; returns each document and the sites that may hold it.
pub(crate) async fn seed(handles: &Handles) -> Result<Vec<(DocId, Vec<String>)>> {
    let (any, _) = handles.values().next().context("no node")?;
    let homes: BTreeMap<String, String> = any
        .call(|core| {
            core.replica()
                .directory()
                .map(|d| {
                    d.directory
                        .employees
                        .values()
                        .map(|e| (e.id.clone(), e.site.clone()))
                        .collect()
                })
                .unwrap_or_default()
        })
        .await?;
    let base = weft_node::run::now_ms() as i64 - 3 * 24 * 3600 * 1000;
    let mut clock = 0i64;
    let mut tick = || {
        clock += 37 * 60 * 1000;
        base + clock
    };
    let mut docs = Vec::new();
    let mut groups: BTreeMap<&str, (DocId, &str)> = BTreeMap::new();
    for g in GROUPS {
        let (name, desc, vis, owner) = (g.name, g.description, visibility(g.visibility), g.owner);
        let t0 = tick();
        let gid = if name == weft_node::service::ALL_COMPANY {
            // The first site's node makes this group at its first start: use it.
            all_company(handles, &homes, owner).await?
        } else {
            at_home(handles, &homes, owner, move |c| {
                c.create_group(owner, name, desc, vis, t0, nonce())
            })
            .await?
        };
        for m in g.members {
            let (gid2, m2) = (gid.clone(), m.to_string());
            let t = tick();
            at_home(handles, &homes, owner, move |c| {
                c.add_member(owner, &gid2, &m2, t)
            })
            .await?;
        }
        groups.insert(name, (gid.clone(), owner));
        let mut group_docs = vec![gid.clone()];
        for th in g.threads {
            let (gid2, author, title, body) = (gid.clone(), th.author, th.title, th.body);
            // Public groups need no membership to post; in private ones authors are members.
            let t = tick();
            wait_for(handles, &homes, author, &gid).await?;
            let tid = at_home(handles, &homes, author, move |c| {
                c.create_thread(author, &gid2, title, body, t, nonce())
            })
            .await?;
            let root = at_home(handles, &homes, author, {
                let tid = tid.clone();
                move |c| {
                    c.load(&tid);
                    Ok(c.replica()
                        .doc(&tid)
                        .and_then(weft_node::crdt::ThreadView::of)
                        .and_then(|v| v.posts.first().map(|p| p.id.clone()))
                        .unwrap_or_default())
                }
            })
            .await?;
            for (who, text) in th.replies {
                let (tid2, who2, text2) = (tid.clone(), *who, *text);
                let t = tick();
                wait_for(handles, &homes, who2, &tid2).await?;
                at_home(handles, &homes, who2, move |c| {
                    c.reply(who2, &tid2, text2, None, t, nonce()).map(|_| ())
                })
                .await?;
            }
            for who in th.likes {
                let (tid2, who2, root2) = (tid.clone(), *who, root.clone());
                let t = tick();
                wait_for(handles, &homes, who2, &tid2).await?;
                at_home(handles, &homes, who2, move |c| {
                    c.react(who2, &tid2, &root2, "like", true, t)
                })
                .await?;
            }
            group_docs.push(tid);
        }
        // Which sites may hold the group's documents, as its home node sees it.
        for d in group_docs {
            let (h, _) = handles
                .get(homes.get(owner).context("owner")?)
                .context("owner's node")?;
            let sites: Vec<String> = handles.keys().cloned().collect();
            let d2 = d.clone();
            let allowed = h
                .call(move |c| {
                    sites
                        .into_iter()
                        .filter(|s| s == c.site() || c.replica().may_hold(s, &d2))
                        .collect::<Vec<_>>()
                })
                .await?;
            docs.push((d, allowed));
        }
    }
    for p in POLLS {
        let (gid, _) = groups.get(p.group).context("a poll's group")?.clone();
        let t = tick();
        let poll = weft_node::crdt::NewPoll {
            question: p.question.to_owned(),
            options: p.options.iter().map(|o| o.to_string()).collect(),
            multiple: p.multiple,
            closes_at: p
                .closes_in_hours
                .map(|h| weft_node::run::now_ms() as i64 + h * 3_600_000),
            results_after_vote: false,
        };
        let (author, title) = (p.author, p.title);
        wait_for(handles, &homes, author, &gid).await?;
        let (tid, root) = at_home(handles, &homes, author, move |c| {
            let q = poll.question.clone();
            let tid = c.create_thread_with(author, &gid, title, &q, Some(&poll), t, nonce())?;
            c.load(&tid);
            let root = c
                .replica()
                .doc(&tid)
                .and_then(weft_node::crdt::ThreadView::of)
                .and_then(|v| v.posts.first().map(|p| p.id.clone()))
                .unwrap_or_default();
            Ok((tid, root))
        })
        .await?;
        for (who, choice) in p.votes {
            let (tid2, root2, who2) = (tid.clone(), root.clone(), *who);
            // Votes are signed now: a poll's closing is judged by the vote's own time.
            let t = weft_node::run::now_ms() as i64;
            wait_for(handles, &homes, who2, &tid2).await?;
            at_home(handles, &homes, who2, move |c| {
                c.vote(who2, &tid2, &root2, choice, t)
            })
            .await?;
        }
        let sites: Vec<String> = handles.keys().cloned().collect();
        docs.push((tid, sites));
    }
    let day = 24 * 3_600_000;
    let today = weft_node::run::now_ms() as i64 / day * day;
    for e in EVENTS {
        let Some((gid, _)) = groups.get(e.group).cloned() else {
            bail!("the event's group {} is not in the seed", e.group);
        };
        let starts_at =
            today + e.in_days * day + (e.hour * 60 + e.minutes - e.utc_offset_minutes) * 60_000;
        let event = weft_node::crdt::NewEvent {
            starts_at,
            ends_at: starts_at + 90 * 60_000,
            time_zone: e.time_zone.to_owned(),
            location: e.location.to_owned(),
            cancelled: false,
        };
        let (author, title, description) = (e.author, e.title, e.description);
        let t = tick();
        wait_for(handles, &homes, author, &gid).await?;
        let tid = at_home(handles, &homes, author, move |c| {
            c.create_event(author, &gid, title, description, &event, t, nonce())
        })
        .await?;
        let root = at_home(handles, &homes, author, {
            let tid = tid.clone();
            move |c| {
                c.load(&tid);
                Ok(c.replica()
                    .doc(&tid)
                    .and_then(weft_node::crdt::ThreadView::of)
                    .and_then(|v| v.posts.first().map(|p| p.id.clone()))
                    .unwrap_or_default())
            }
        })
        .await?;
        for (who, answer) in e.rsvps {
            let (tid2, root2, who2, answer2) = (tid.clone(), root.clone(), *who, *answer);
            let t = tick();
            wait_for(handles, &homes, who2, &tid2).await?;
            at_home(handles, &homes, who2, move |c| {
                c.rsvp(who2, &tid2, &root2, Some(answer2), t)
            })
            .await?;
        }
        let sites: Vec<String> = handles.keys().cloned().collect();
        docs.push((tid, sites));
    }
    // Walls: colleagues at the three sites write on each other's profiles.
    for (author, owner, text) in WALLS {
        let (a, o, x) = (*author, *owner, *text);
        let all = all_company(handles, &homes, a).await?;
        wait_for(handles, &homes, a, &all).await?;
        // A wall started at another site a moment ago: wait until it is here, so that the
        // wall stays one thread.
        wait_for_wall(handles, &homes, a, o).await?;
        let (tid, _) = at_home(handles, &homes, a, move |c| {
            c.post_on_wall(a, o, x, weft_node::run::now_ms() as i64, nonce())
        })
        .await?;
        let sites: Vec<String> = handles.keys().cloned().collect();
        docs.push((tid, sites));
    }
    // An announcement from internal communication, and a question with its best answer,
    // pinned by its group's owner.
    let (announcer, all) = (
        "mroux",
        groups.get("All company").context("All company")?.0.clone(),
    );
    let ann = weft_node::crdt::NewAnnouncement {
        site: None,
        expires_at: weft_node::run::now_ms() as i64 + 14 * 24 * 3_600_000,
    };
    let t = weft_node::run::now_ms() as i64;
    wait_for(handles, &homes, announcer, &all).await?;
    let tid = at_home(handles, &homes, announcer, move |c| {
        let extras = weft_node::crdt::ThreadExtras {
            announcement: Some(&ann),
            ..Default::default()
        };
        c.create_thread_ext(
            announcer,
            &all,
            "Nouveau : sondages, agenda et murs / New: polls, agenda and walls",
            "Weft vous permet désormais de voter, de répondre aux invitations et d'écrire sur le mur de vos collègues. Essayez ! #weft\n\nWeft now has polls, an agenda you can subscribe to in your calendar, and walls on every profile. Try them!",
            extras,
            t,
            nonce(),
        )
    })
    .await?;
    docs.push((tid, handles.keys().cloned().collect()));
    let (asker, answerer, owner) = ("pkumar", "jsmith", "jlefevre");
    let gid = groups
        .get("IT Transformation")
        .context("IT Transformation")?
        .0
        .clone();
    wait_for(handles, &homes, asker, &gid).await?;
    let q = at_home(handles, &homes, asker, move |c| {
        let extras = weft_node::crdt::ThreadExtras {
            question: true,
            ..Default::default()
        };
        c.create_thread_ext(
            asker,
            &gid,
            "How do we request a new cloud project?",
            "Is there a form, or do we ask IT directly? #cloud",
            extras,
            weft_node::run::now_ms() as i64,
            nonce(),
        )
    })
    .await?;
    wait_for(handles, &homes, answerer, &q).await?;
    let q2 = q.clone();
    let answer = at_home(handles, &homes, answerer, move |c| {
        c.reply(
            answerer,
            &q2,
            "Use the *Cloud request* form on the intranet; IT answers within two days.",
            None,
            weft_node::run::now_ms() as i64,
            nonce(),
        )
    })
    .await?;
    wait_until_post(handles, &homes, asker, &q, &answer).await?;
    let q3 = q.clone();
    at_home(handles, &homes, asker, move |c| {
        c.set_best_answer(asker, &q3, Some(&answer), weft_node::run::now_ms() as i64)
    })
    .await?;
    wait_for(handles, &homes, owner, &q).await?;
    let q4 = q.clone();
    at_home(handles, &homes, owner, move |c| {
        c.pin_thread(owner, &q4, true, weft_node::run::now_ms() as i64)
    })
    .await?;
    docs.push((q, handles.keys().cloned().collect()));
    docs.extend(seed_files(handles, &homes, &groups).await?);
    docs.extend(seed_community(handles, &homes, &groups).await?);
    Ok(docs)
}

/// Community management: a reported post in the moderation queue, an official thread, a
/// likely duplicate group, a private group known elsewhere by its card, a digest mailed to
/// the demo's catcher, and every site's usage figures published.
async fn seed_community(
    handles: &Handles,
    homes: &BTreeMap<String, String>,
    groups: &BTreeMap<&str, (DocId, &str)>,
) -> Result<Vec<(DocId, Vec<String>)>> {
    let mut docs = Vec::new();
    let every: Vec<String> = handles.keys().cloned().collect();
    // A post off the group's purpose, reported by two colleagues at other sites.
    let sales = groups
        .get("Key account sales")
        .context("Key account sales")?
        .0
        .clone();
    let (svc, kt) = service_of(handles, homes, "kthomas")?;
    wait_for(handles, homes, "kthomas", &sales).await?;
    let spam = svc
        .create_thread(
            &kt,
            &sales,
            "Selling my car",
            "Great price, low mileage. DM me! Also available: concert tickets.",
        )
        .await?;
    let spam_post = svc.thread(&kt, &spam).await?.posts[0].id.clone();
    for (who, reason) in [
        (
            "lmoreau",
            "Petites annonces : hors sujet dans ce groupe (voir la charte, §3).",
        ),
        (
            "hchatterjee",
            "Personal sales do not belong in a customer group.",
        ),
    ] {
        wait_for(handles, homes, who, &spam).await?;
        let (s, v) = service_of(handles, homes, who)?;
        s.report(&v, &spam, &spam_post, Some(reason)).await?;
    }
    docs.push((spam, every.clone()));
    // The SSO schedule is the reference: official.
    let it = groups
        .get("IT Transformation")
        .context("IT Transformation")?
        .0
        .clone();
    let (cm, hd) = service_of(handles, homes, "hdupre")?;
    let sso = cm
        .group_threads(&hd, &it)
        .await?
        .into_iter()
        .find(|t| t.title.starts_with("Single sign-on"))
        .map(|t| t.id.clone());
    if let Some(sso) = sso {
        cm.mark_thread(&hd, &sso, Some(weft_node::crdt::ThreadMark::Official))
            .await?;
    }
    // A second photo club, in New York: a likely duplicate of Paris's.
    let (ny, am) = service_of(handles, homes, "amartinez")?;
    let club = ny
        .create_group(
            &am,
            "Club photo",
            "Street photography in Manhattan, monthly walks.",
            weft_node::crdt::Visibility::Public,
        )
        .await?;
    docs.push((club, every.clone()));
    // A private group at Paris: New York and Bangalore see its card, not its content.
    let (paris, lm) = service_of(handles, homes, "lmoreau")?;
    let cse = paris
        .create_group(
            &lm,
            "Comité social et économique",
            "Les élus du CSE de Paris : ordres du jour, comptes rendus, questions.",
            weft_node::crdt::Visibility::Private,
        )
        .await?;
    paris.add_member(&lm, &cse, "cmartin").await?;
    paris
        .create_thread(
            &lm,
            &cse,
            "Ordre du jour de la réunion de décembre",
            "1. Budget des activités sociales 2. Questions des salariés",
        )
        .await?;
    // Hélène gets a daily digest; here is today's, in the catcher now.
    let mut prefs = cm.mail_prefs(&hd)?;
    prefs.digest = weft_node::service::DigestEvery::Daily;
    cm.set_mail_prefs(&hd, prefs).await?;
    cm.send_digest_now(&hd).await?;
    // Every site signs its week's figures (the nodes do it every hour).
    for site in handles.keys() {
        let (h, _) = handles.get(site).context("node")?;
        let s = weft_node::service::Service::new(
            h.clone(),
            std::sync::Arc::new(weft_node::clock::SystemClock),
            std::sync::Arc::new(weft_node::clock::SystemRng),
        );
        s.publish_stats().await?;
    }
    Ok(docs)
}

/// The service of `employee`'s home node, and the employee as its viewer.
fn service_of(
    handles: &Handles,
    homes: &BTreeMap<String, String>,
    employee: &str,
) -> Result<(weft_node::service::Service, weft_node::service::Viewer)> {
    let site = homes
        .get(employee)
        .with_context(|| format!("{employee} is not in the directory"))?;
    let (h, _) = handles
        .get(site)
        .with_context(|| format!("no node for {site}"))?;
    let service = weft_node::service::Service::new(
        h.clone(),
        std::sync::Arc::new(weft_node::clock::SystemClock),
        std::sync::Arc::new(weft_node::clock::SystemRng),
    );
    Ok((service, weft_node::service::Viewer::new(employee)))
}

/// A photo made here: a landscape of sky, hills and a sun, in colours picked by `seed`.
fn photo(seed: u32) -> Result<Vec<u8>> {
    let (w, h) = (960u32, 640u32);
    let hue = |i: u32| ((seed * 47 + i * 31) % 200) as f32 / 200.0;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let hill = 0.62 + 0.08 * (fx * 6.0 + seed as f32).sin() + 0.05 * (fx * 17.0).cos();
        let (sx, sy) = (0.25 + 0.5 * hue(1), 0.25);
        let sun = ((fx - sx).powi(2) + (fy - sy).powi(2) * 2.25).sqrt() < 0.07;
        let c = if sun {
            [250.0, 220.0, 120.0]
        } else if fy > hill {
            [
                40.0 + 60.0 * hue(2),
                110.0 + 60.0 * (1.0 - fy),
                50.0 + 40.0 * hue(3),
            ]
        } else {
            [
                90.0 + 80.0 * fy,
                140.0 + 70.0 * fy + 30.0 * hue(4),
                230.0 - 40.0 * fy,
            ]
        };
        image::Rgb(c.map(|v| v.clamp(0.0, 255.0) as u8))
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img)?;
    Ok(out)
}

/// A one-page PDF of `lines` (Helvetica), its cross-reference table computed.
fn pdf(lines: &[&str]) -> Vec<u8> {
    let mut text = String::from("BT /F1 16 Tf 72 740 Td 22 TL");
    for l in lines {
        let escaped = l
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        // WinAnsi: Latin-1 letters as octal escapes.
        let mut latin = String::new();
        for c in escaped.chars() {
            match u32::from(c) {
                0..=127 => latin.push(c),
                n @ 160..=255 => latin.push_str(&format!("\\{n:o}")),
                _ => latin.push('?'),
            }
        }
        text.push_str(&format!(" ({latin}) Tj T*"));
    }
    text.push_str(" ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Uploads `bytes` as `employee` at their home node; returns the file's id.
async fn upload(
    handles: &Handles,
    homes: &BTreeMap<String, String>,
    employee: &str,
    name: &str,
    media_type: &str,
    bytes: Vec<u8>,
) -> Result<String> {
    let (s, v) = service_of(handles, homes, employee)?;
    let info = s
        .upload(&v, name, media_type, std::io::Cursor::new(bytes))
        .await
        .with_context(|| format!("uploading {name}"))?;
    Ok(info.id)
}

/// Files in the demo: a post of photos in the Photo club, a short tutorial video, and the
/// IT Transformation library with documents in folders, one with three versions.
async fn seed_files(
    handles: &Handles,
    homes: &BTreeMap<String, String>,
    groups: &BTreeMap<&str, (DocId, &str)>,
) -> Result<Vec<(DocId, Vec<String>)>> {
    let everywhere: Vec<String> = handles.keys().cloned().collect();
    let mut docs = Vec::new();
    // Photos, by a member of the Photo club at Paris.
    let club = groups.get("Photo club").context("Photo club")?.0.clone();
    let who = "hdupre";
    wait_for(handles, homes, who, &club).await?;
    let mut photos = Vec::new();
    for (i, name) in [
        "jardin-des-plantes-1.jpg",
        "jardin-des-plantes-2.jpg",
        "serres.jpg",
    ]
    .into_iter()
    .enumerate()
    {
        photos.push(
            upload(
                handles,
                homes,
                who,
                name,
                "image/jpeg",
                photo(i as u32 + 3)?,
            )
            .await?,
        );
    }
    let (s, v) = service_of(handles, homes, who)?;
    let t = s
        .create_thread(
            &v,
            &club,
            "Photos de la sortie / Photos from Saturday",
            "Quelques photos de samedi au jardin des Plantes. #photo",
        )
        .await?;
    let root = s.thread(&v, &t).await?.posts[0].id.clone();
    s.attach(&v, &t, &root, &photos).await?;
    docs.push((t, everywhere.clone()));
    // A short video tutorial, made here (H.264 in MP4, 3 s).
    let onboarding = groups
        .get("Onboarding & mentoring")
        .context("Onboarding & mentoring")?
        .0
        .clone();
    wait_for(handles, homes, who, &onboarding).await?;
    let video = crate::video::mp4(320, 240, 30, 10, |f, x, y| {
        let bar = (f * 10) % 320;
        if x.abs_diff(bar) < 12 {
            [250, 200, 40]
        } else {
            [(40 + y / 3) as u8, (90 + x / 6) as u8, 170]
        }
    });
    let vid = upload(handles, homes, who, "tutoriel-weft.mp4", "video/mp4", video).await?;
    let t = s
        .create_thread(
            &v,
            &onboarding,
            "Tutoriel vidéo : bien démarrer / Video: getting started",
            "Trois secondes pour découvrir Weft. #onboarding",
        )
        .await?;
    let root = s.thread(&v, &t).await?.posts[0].id.clone();
    s.attach(&v, &t, &root, &[vid]).await?;
    docs.push((t, everywhere.clone()));
    // The IT Transformation library.
    let it = groups
        .get("IT Transformation")
        .context("IT Transformation")?
        .0
        .clone();
    let (owner, member) = ("jlefevre", "jsmith");
    wait_for(handles, homes, owner, &it).await?;
    let (so, vo) = service_of(handles, homes, owner)?;
    let v1 = upload(
        handles,
        homes,
        owner,
        "charte-informatique.pdf",
        "application/pdf",
        pdf(&[
            "Charte informatique",
            "Version 1 : les règles de base.",
            "Mots de passe, postes de travail, messagerie.",
        ]),
    )
    .await?;
    let charter = so
        .add_document(
            &vo,
            &it,
            "Chartes",
            "Charte informatique",
            "Première version",
            &v1,
        )
        .await?;
    let v2 = upload(
        handles,
        homes,
        owner,
        "charte-informatique-v2.pdf",
        "application/pdf",
        pdf(&[
            "Charte informatique",
            "Version 2 : ajout du télétravail.",
            "VPN obligatoire hors des sites.",
        ]),
    )
    .await?;
    so.new_version(&vo, &charter, "Télétravail ajouté", &v2)
        .await?;
    let vpn = upload(handles, homes, owner, "procedure-vpn.txt", "text/plain", "Procédure VPN\n\n1. Installer le client.\n2. Se connecter avec son badge.\n3. Appeler le support en cas de souci : poste 4242.".as_bytes().to_vec()).await?;
    let vpn_doc = so
        .add_document(&vo, &it, "Procédures", "Procédure VPN", "", &vpn)
        .await?;
    docs.push((charter.clone(), everywhere.clone()));
    docs.push((vpn_doc, everywhere.clone()));
    // A member at New York uploads a third version of the charter.
    wait_for(handles, homes, member, &charter).await?;
    let v3 = upload(
        handles,
        homes,
        member,
        "it-charter-v3.pdf",
        "application/pdf",
        pdf(&[
            "IT charter",
            "Version 3: English translation for New York and Bangalore.",
        ]),
    )
    .await?;
    let (sm, vm) = service_of(handles, homes, member)?;
    sm.new_version(&vm, &charter, "English translation", &v3)
        .await?;
    let arch = upload(
        handles,
        homes,
        member,
        "cloud-architecture.pdf",
        "application/pdf",
        pdf(&[
            "Cloud architecture",
            "Kubernetes clusters at each site, object storage, backups.",
        ]),
    )
    .await?;
    let arch_doc = sm
        .add_document(
            &vm,
            &it,
            "Architecture",
            "Cloud architecture",
            "Draft for review",
            &arch,
        )
        .await?;
    docs.push((arch_doc, everywhere));
    Ok(docs)
}

/// What colleagues write on each other's walls in the demo: (author, wall's owner, text).
const WALLS: &[(&str, &str, &str)] = &[
    (
        "jsmith",
        "hdupre",
        "Thanks for the warm welcome in Paris last month, Hélène!",
    ),
    (
        "pkumar",
        "hdupre",
        "Merci pour la formation Weft. Bangalore is all set.",
    ),
    (
        "cmartin",
        "jsmith",
        "Bravo pour la migration #kubernetes, John !",
    ),
    ("srao", "pkumar", "Congratulations on the release, Priya!"),
];

/// Waits until `employee`'s node holds every wall of `owner` another site has started.
async fn wait_for_wall(
    handles: &Handles,
    homes: &BTreeMap<String, String>,
    employee: &str,
    owner: &str,
) -> Result<()> {
    // The walls any node knows of.
    let mut known = std::collections::BTreeSet::new();
    for (h, _) in handles.values() {
        let o = owner.to_owned();
        let ids: Vec<DocId> = h
            .call(move |c| c.model().walls_of(&o).cloned().collect::<Vec<_>>())
            .await?;
        known.extend(ids);
    }
    for t in known {
        wait_for(handles, homes, employee, &t).await?;
    }
    Ok(())
}

/// Waits until `employee`'s node holds post `post` of `thread`.
async fn wait_until_post(
    handles: &Handles,
    homes: &BTreeMap<String, String>,
    employee: &str,
    thread: &DocId,
    post: &str,
) -> Result<()> {
    for _ in 0..600 {
        let (t, p, who) = (thread.clone(), post.to_owned(), employee.to_owned());
        let here = at_home(handles, homes, employee, move |c| {
            Ok(c.thread_for(&who, &t)
                .is_some_and(|v| v.posts.iter().any(|x| x.id == p)))
        })
        .await?;
        if here {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    bail!("post {post} did not reach {employee}'s site")
}

/// Waits until `employee`'s home node shows them `doc`, a group or thread written at another
/// site a moment ago.
/// The "All company" group as `employee`'s node knows it, once it has arrived there.
async fn all_company(
    handles: &Handles,
    homes: &BTreeMap<String, String>,
    employee: &str,
) -> Result<DocId> {
    let start = std::time::Instant::now();
    loop {
        if let Some(g) = at_home(handles, homes, employee, |c| Ok(c.all_company())).await? {
            return Ok(g);
        }
        if start.elapsed() > std::time::Duration::from_secs(60) {
            bail!("the All company group never reached {employee}'s site");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn wait_for(
    handles: &Handles,
    homes: &BTreeMap<String, String>,
    employee: &str,
    doc: &DocId,
) -> Result<()> {
    let thread = doc;
    let site = homes.get(employee).context("unknown employee")?;
    let (h, _) = handles.get(site).context("no node")?;
    for _ in 0..600 {
        let t = thread.clone();
        let who = employee.to_owned();
        let visible = h
            .call(move |c| match t.kind() {
                weft_node::crdt::DocKind::Thread => c.thread_for(&who, &t).is_some(),
                _ => c.group_access(&who, &t) == weft_node::service::Access::Full,
            })
            .await?;
        if visible {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("{thread} did not reach {site}")
}

/// A seed group's visibility from its name in the table above.
fn visibility(s: &str) -> weft_node::crdt::Visibility {
    weft_node::crdt::Visibility::parse(s).unwrap_or(weft_node::crdt::Visibility::Public)
}
