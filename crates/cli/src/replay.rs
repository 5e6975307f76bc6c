//! `haurach replay`: runs a scenario fast-forwarded against a server (an in-process one,
//! unless `--server` is given) and prints its timeline: when, how far apart, and what
//! opened; with `--svg FILE`, also draws it ([`crate::chart`]).
//!
//! Both partners walk their tracks on the scenario's clock. The clock advances in small
//! steps: each partner moves at most half of `--step-m` per step (so they come at most
//! `--step-m` closer), and at most a fortieth of the distance between them, so steps
//! shrink as they meet; a step never passes a waypoint, and a rest of both is one step.
//! After each step the bond is read back from the server, which decides what is open.
//! With `--private` the two are bonded privately, and each step is a token report and a
//! sealed position from each one's device (played here), so the tiers are the tokens'.
//! What a waypoint says (`says`) is sent as words when voice is open, sealed on a private
//! bond.
//! Distances are the exact geodesic between the simulated positions, which the
//! replay knows (the server only tells a partner a coarsened pull beyond sight range).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use haurach_bond::geo::inverse;
use haurach_bond::{Profile, Tier};
use haurach_private::{BondKey, DeviceSecret, InviteSecret, Role};
use haurach_proto::private::to_hex;
use haurach_proto::{
    AcceptInvite, AcceptPrivateInvite, BondView, Confirmation, Credentials, Invite, MessageKind,
    NewPrivateInvite, PositionUpdate, PrivateBondView, PrivateInvite, SendMessage, Session,
};
use reqwest::Method;
use serde::Serialize;

use crate::client::api::Api;
use crate::client::sealed::Sealing;
use crate::scenario::{Scenario, format_time};
use crate::track::Track;
use crate::walk::{bond_of, put_position};

/// The most steps a replay takes before it gives up.
const MAX_STEPS: u64 = 200_000;
/// The smallest move per step, metres: below this, steps would only cost time.
const MIN_MOVE_M: f64 = 1.0;

/// Options of `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The scenario file, e.g. scenarios/desert.toml.
    file: PathBuf,
    /// Print the timeline as JSON instead of lines.
    #[arg(long)]
    json: bool,
    /// The partners come at most this much closer per step, metres.
    #[arg(long, value_name = "M", default_value_t = 100.0)]
    step_m: f64,
    /// Also draw the journey as an SVG: the distance over time, the tiers' bands behind
    /// it, and where each tier opened.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Bond the two privately: each one's device (played here, its keys in memory) sends
    /// token reports and sealed positions, never a position, and the server opens the
    /// tiers from the tokens.
    #[arg(long)]
    private: bool,
}

/// The whole timeline, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Timeline {
    /// The scenario's title.
    pub title: String,
    /// The bond's profile.
    pub profile: Profile,
    /// The two partners.
    pub partners: [String; 2],
    /// Where it ran: a URL, or "in-process".
    pub server: String,
    /// How many steps the clock took.
    pub steps: u64,
    /// What happened, in order.
    pub events: Vec<Event>,
    /// The distance after every step: (seconds since the start of day 1, metres).
    #[serde(skip)]
    pub samples: Vec<(f64, f64)>,
    /// Where the two stood at the start and after every step, `[lat, lon]` in the order
    /// of `partners`: every position the replay sent is among them.
    pub walked: Vec<[[f64; 2]; 2]>,
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// The step it happened at (0: the start).
    pub step: u64,
    /// Seconds since the start of day 1.
    pub t_s: f64,
    /// `day N HH:MM`.
    pub at: String,
    /// The partners' distance after the step, metres.
    pub distance_m: f64,
    /// What happened.
    #[serde(flatten)]
    pub what: What,
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// The start: what is open already.
    Start {
        /// The open tiers.
        open: Vec<Tier>,
    },
    /// A tier opened or closed.
    Tier {
        /// Which.
        tier: Tier,
        /// Whether it is now open.
        open: bool,
        /// Its range, metres.
        range_m: Option<f64>,
        /// The distance before the step, metres.
        prev_distance_m: f64,
    },
    /// A waypoint's note.
    Note {
        /// Whose waypoint.
        who: String,
        /// What happens there.
        note: String,
    },
    /// What a waypoint says: sent as words if voice was open.
    Said {
        /// Who says it.
        who: String,
        /// The words.
        words: String,
        /// Whether they were sent (voice was open).
        sent: bool,
    },
    /// The end of the scenario.
    End {
        /// Whether they are together (within the memories range).
        together: bool,
        /// Where they meet, from the scenario.
        place: Option<String>,
    },
}

impl Event {
    /// The event as a line of the timeline.
    fn line(&self, names: &[String; 2]) -> String {
        let text = match &self.what {
            What::Start { open } => format!(
                "{} and {} set out; open: {}",
                names[0],
                names[1],
                open.iter().map(|t| t.key()).collect::<Vec<_>>().join(", ")
            ),
            What::Tier {
                tier,
                open: true,
                range_m,
                ..
            } => format!(
                "{} opened ({})",
                tier.key(),
                crate::client::show::range(*range_m)
            ),
            What::Tier {
                tier, open: false, ..
            } => format!("{} closed", tier.key()),
            What::Note { who, note } => format!("{who} {note}"),
            What::Said {
                who,
                words,
                sent: true,
            } => format!("{who} says {words:?}"),
            What::Said {
                who,
                words,
                sent: false,
            } => format!("{who} would say {words:?}, but voice is closed"),
            What::End {
                together: true,
                place,
            } => match place {
                Some(place) => format!("{} and {} are together at {place}", names[0], names[1]),
                None => format!("{} and {} are together", names[0], names[1]),
            },
            What::End {
                together: false, ..
            } => "the scenario ends with them apart".to_owned(),
        };
        format!("{}  {:>8}  {text}", self.at, distance(self.distance_m))
    }
}

/// A distance for the timeline: "19.8 km", "850 m".
fn distance(m: f64) -> String {
    if m >= 1000.0 {
        format!("{:.1} km", m / 1000.0)
    } else {
        format!("{m:.0} m")
    }
}

/// Runs the replay: on `server` if given, else on a server started in this process.
pub async fn run(server: Option<&str>, args: &ReplayArgs) -> anyhow::Result<()> {
    if !(args.step_m.is_finite() && args.step_m > 0.0) {
        anyhow::bail!("--step-m must be a positive number of metres");
    }
    let scenario = Scenario::load(&args.file)?;
    let timeline = match server {
        Some(url) => replay(url, url, &scenario, args).await?,
        None => {
            let data = tempfile::tempdir().context("cannot make a temporary data directory")?;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .context("cannot listen on 127.0.0.1 for the in-process server")?;
            let addr = listener.local_addr()?;
            let config = haurach_server::Config {
                listen: addr,
                data: data.path().to_owned(),
                // A throwaway city for the scenario's characters: they walk straight in.
                gate: haurach_proto::GateMode::Open,
                ..haurach_server::Config::default()
            };
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(haurach_server::run(config, listener, async {
                let _ = stopped.await;
            }));
            let res = replay(&format!("http://{addr}"), "in-process", &scenario, args).await;
            let _ = stop.send(());
            server
                .await
                .context("the in-process server failed")?
                .context("the in-process server failed")?;
            res?
        }
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&timeline)?);
    } else {
        outln!("{} steps", timeline.steps);
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, draw(&timeline))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("drew the journey in {}", path.display());
    }
    Ok(())
}

/// The timeline as a chart (see [`crate::chart`]).
fn draw(timeline: &Timeline) -> String {
    let openings: Vec<crate::chart::Opening> = timeline
        .events
        .iter()
        .filter_map(|e| match e.what {
            What::Tier {
                tier, open: true, ..
            } => Some(crate::chart::Opening {
                t_s: e.t_s,
                distance_m: e.distance_m,
                tier,
            }),
            _ => None,
        })
        .collect();
    let title = format!(
        "{}: {} and {}",
        timeline.title, timeline.partners[0], timeline.partners[1]
    );
    crate::chart::svg(&crate::chart::Chart {
        title: &title,
        profile: timeline.profile,
        samples: &timeline.samples,
        openings: &openings,
        time_label: &format_time,
    })
}

/// A partner being walked.
struct Walker {
    name: String,
    api: Api,
    track: Track,
    pos: (f64, f64),
    /// On a private bond, what their device seals with.
    sealing: Option<Sealing>,
    /// What they say, and when (seconds since the start of day 1).
    says: Vec<(f64, String)>,
}

async fn replay(
    url: &str,
    server_label: &str,
    scenario: &Scenario,
    args: &ReplayArgs,
) -> anyhow::Result<Timeline> {
    let anonymous = Api::new(url, None)?;
    let mut walkers = Vec::with_capacity(2);
    for partner in &scenario.partners {
        let api = enter(&anonymous, &partner.name, &partner.password).await?;
        let track = partner.track()?;
        let start = track.start_s();
        let pos = track.position_at(start);
        let mut says = Vec::new();
        for w in &partner.waypoints {
            if let Some(words) = &w.says {
                says.push((crate::scenario::parse_time(&w.at)?, words.clone()));
            }
        }
        walkers.push(Walker {
            name: partner.name.clone(),
            api,
            track,
            pos,
            sealing: None,
            says,
        });
    }
    let names = [walkers[0].name.clone(), walkers[1].name.clone()];
    let t_start = walkers
        .iter()
        .map(|w| w.track.start_s())
        .fold(f64::INFINITY, f64::min);
    let t_end = walkers
        .iter()
        .map(|w| w.track.end_s())
        .fold(f64::NEG_INFINITY, f64::max);
    for w in &mut walkers {
        w.pos = w.track.position_at(t_start);
    }
    if args.private {
        // A private bond takes no position: bonded first, its devices then report.
        let [a, b] = bond_privately(&walkers, scenario.profile).await?;
        (walkers[0].sealing, walkers[1].sealing) = (Some(a), Some(b));
        for w in &walkers {
            put(w).await?;
        }
    } else {
        for w in &walkers {
            put(w).await?;
        }
        bond(&walkers, scenario.profile).await?;
    }

    let mut events = Vec::new();
    let mut emit = |event: Event| {
        if !args.json {
            outln!("{}", event.line(&names));
        }
        events.push(event);
    };
    if !args.json {
        outln!(
            "{}: {} and {}, {} profile, on {}",
            scenario.title,
            names[0],
            names[1],
            scenario.profile.key(),
            if server_label == "in-process" {
                "a server started for the replay"
            } else {
                server_label
            }
        );
    }

    let gap = |walkers: &[Walker]| {
        let (a, b) = (walkers[0].pos, walkers[1].pos);
        inverse(a.0, a.1, b.0, b.1).distance_m
    };
    let view = read_bond(&walkers[0]).await?;
    let mut open = open_tiers(&view);
    let mut d = gap(&walkers);
    let mut samples = vec![(t_start, d)];
    let stood = |walkers: &[Walker]| {
        let at = |w: &Walker| [w.pos.0, w.pos.1];
        [at(&walkers[0]), at(&walkers[1])]
    };
    let mut walked = vec![stood(&walkers)];
    let event = |step, t_s: f64, distance_m, what| Event {
        step,
        t_s,
        at: format_time(t_s),
        distance_m,
        what,
    };
    emit(event(
        0,
        t_start,
        d,
        What::Start {
            open: open.iter().copied().collect(),
        },
    ));
    for w in &walkers {
        for p in w.track.points().iter().filter(|p| p.t_s <= t_start) {
            if let Some(note) = &p.note {
                emit(event(
                    0,
                    t_start,
                    d,
                    What::Note {
                        who: w.name.clone(),
                        note: note.clone(),
                    },
                ));
            }
        }
    }

    let mut t = t_start;
    let mut step = 0u64;
    while t < t_end {
        step += 1;
        if step > MAX_STEPS {
            anyhow::bail!("the replay took more than {MAX_STEPS} steps: make --step-m longer");
        }
        // The next waypoint of either partner bounds the step; so does how far each may
        // move in it.
        let boundary = walkers
            .iter()
            .filter_map(|w| w.track.next_time_after(t))
            .fold(t_end, f64::min);
        let max_move = (args.step_m / 2.0).min((d / 40.0).max(MIN_MOVE_M));
        let mut dt = boundary - t;
        for w in &walkers {
            let speed = w.track.speed_at(t);
            if speed > 0.0 {
                dt = dt.min(max_move / speed);
            }
        }
        let prev_t = t;
        t = if boundary - (t + dt) < 1e-6 {
            boundary
        } else {
            t + dt
        };
        for w in &mut walkers {
            let pos = w.track.position_at(t);
            if pos != w.pos {
                w.pos = pos;
                put(w).await?;
            }
        }
        let prev_d = d;
        d = gap(&walkers);
        samples.push((t, d));
        walked.push(stood(&walkers));
        for w in &walkers {
            for p in w
                .track
                .points()
                .iter()
                .filter(|p| p.t_s > prev_t && p.t_s <= t)
            {
                if let Some(note) = &p.note {
                    emit(event(
                        step,
                        t,
                        d,
                        What::Note {
                            who: w.name.clone(),
                            note: note.clone(),
                        },
                    ));
                }
            }
        }
        // What they say on the way, as words while voice is open (as it stood before
        // the step).
        for w in &walkers {
            for (_, words) in w.says.iter().filter(|(at, _)| *at > prev_t && *at <= t) {
                let sent = open.contains(&Tier::Voice);
                if sent {
                    say(w, words).await?;
                }
                emit(event(
                    step,
                    t,
                    d,
                    What::Said {
                        who: w.name.clone(),
                        words: words.clone(),
                        sent,
                    },
                ));
            }
        }
        let view = read_bond(&walkers[0]).await?;
        let now_open = open_tiers(&view);
        for tier in Tier::ALL {
            let (was, is) = (open.contains(&tier), now_open.contains(&tier));
            if was != is {
                emit(event(
                    step,
                    t,
                    d,
                    What::Tier {
                        tier,
                        open: is,
                        range_m: view.tiers.get(&tier).and_then(|v| v.range_m),
                        prev_distance_m: prev_d,
                    },
                ));
            }
        }
        open = now_open;
    }
    let together = open.contains(&Tier::Memories);
    emit(event(
        step,
        t,
        d,
        What::End {
            together,
            place: scenario.meeting_place.clone(),
        },
    ));
    Ok(Timeline {
        title: scenario.title.clone(),
        profile: scenario.profile,
        partners: names.clone(),
        server: server_label.to_owned(),
        steps: step,
        events,
        samples,
        walked,
    })
}

/// Registers `name` (or, if the name is taken, logs in with the scenario's password).
async fn enter(anonymous: &Api, name: &str, password: &str) -> anyhow::Result<Api> {
    let creds = Credentials {
        name: name.to_owned(),
        password: password.to_owned(),
    };
    // 201 is an account; 202 an application waiting for the tower (`standing`).
    match anonymous
        .post::<_, serde_json::Value>("/api/v1/accounts", &creds)
        .await
    {
        Ok(answer) if answer.get("standing").is_some() => anyhow::bail!(
            "{name} applied at the server's gate and waits for the tower: approve them \
             (haurach gate approve {name} --answer ...), or run the server with --gate open"
        ),
        Ok(_) => {}
        Err(e) if e.code() == Some("name_taken") => {}
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot register {name}"))),
    }
    let session: Session = anonymous
        .post("/api/v1/sessions", &creds)
        .await
        .with_context(|| format!("cannot log in as {name} with the scenario's password"))?;
    Ok(anonymous.with_token(session.token))
}

/// Bonds the two with the scenario's profile, ending an earlier bond between the same
/// two first (from an earlier replay on the same server).
async fn bond(walkers: &[Walker], profile: Profile) -> anyhow::Result<()> {
    free(walkers).await?;
    let (a, b) = (&walkers[0], &walkers[1]);
    let invite: Invite = a
        .api
        .json(Method::POST, "/api/v1/bond/invites", None)
        .await?;
    let accept = AcceptInvite {
        code: invite.code,
        profile: Some(profile),
    };
    let _: BondView = b.api.post("/api/v1/bond", &accept).await?;
    Ok(())
}

/// Bonds the two privately with the scenario's profile, as two devices would (each one's
/// keys made here and kept in memory, the bond key derived and confirmed), after ending
/// an earlier bond between them; what each one's device seals with.
async fn bond_privately(walkers: &[Walker], profile: Profile) -> anyhow::Result<[Sealing; 2]> {
    free(walkers).await?;
    let (a, b) = (&walkers[0], &walkers[1]);
    let secret = InviteSecret::generate();
    let (mine, theirs) = (DeviceSecret::generate(), DeviceSecret::generate());
    let invite = NewPrivateInvite {
        lookup: to_hex(&secret.lookup()),
        public_key: to_hex(&mine.public()),
        forget_places: Vec::new(),
    };
    let _: PrivateInvite = a.api.post("/api/v1/bond/private-invites", &invite).await?;
    let accept = AcceptPrivateInvite {
        lookup: to_hex(&secret.lookup()),
        public_key: to_hex(&theirs.public()),
        profile: Some(profile),
        forget_places: Vec::new(),
    };
    let view: BondView = b.api.post("/api/v1/bond/private", &accept).await?;
    let keys = [
        BondKey::derive(Role::Inviter, &mine, &theirs.public(), &secret)?,
        BondKey::derive(Role::Accepter, &theirs, &mine.public(), &secret)?,
    ];
    for (w, (key, role)) in [a, b]
        .into_iter()
        .zip(keys.iter().zip([Role::Inviter, Role::Accepter]))
    {
        let tag = Confirmation {
            tag: to_hex(&key.confirmation(role)),
        };
        w.api
            .empty(Method::PUT, "/api/v1/bond/private/confirmation", Some(&tag))
            .await?;
    }
    // The city's top speed, by which each device judges its own stretch.
    let city: PrivateBondView = a.api.get("/api/v1/bond/private").await?;
    let [ka, kb] = keys;
    Ok([
        Sealing::in_memory(ka, view.id, Role::Inviter, city.max_speed_kmh),
        Sealing::in_memory(kb, view.id, Role::Accepter, city.max_speed_kmh),
    ])
}

/// Ends an earlier bond between the two (from an earlier replay on the same server);
/// fails when either is bonded with someone else.
async fn free(walkers: &[Walker]) -> anyhow::Result<()> {
    let (a, b) = (&walkers[0], &walkers[1]);
    for (w, other) in [(a, b), (b, a)] {
        if let Some(view) = bond_of(&w.api).await? {
            if view.partner.eq_ignore_ascii_case(&other.name) {
                w.api.empty(Method::DELETE, "/api/v1/bond", None).await?;
                eprintln!(
                    "ended the earlier bond of {} and {} to start afresh",
                    w.name, other.name
                );
            } else {
                anyhow::bail!(
                    "{} is bonded with {} on this server: the scenario needs them free",
                    w.name,
                    view.partner
                );
            }
        }
    }
    Ok(())
}

async fn put(w: &Walker) -> anyhow::Result<()> {
    if let Some(sealing) = &w.sealing {
        let fix = haurach_bond::Fix {
            lat: w.pos.0,
            lon: w.pos.1,
            accuracy_m: 0.0,
            at_ms: (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        };
        sealing
            .send_fix(&w.api, &fix)
            .await
            .map(|_| ())
            .with_context(|| format!("cannot move {}", w.name))?;
        return Ok(());
    }
    put_position(
        &w.api,
        &PositionUpdate {
            lat: w.pos.0,
            lon: w.pos.1,
            accuracy_m: None,
            at: None,
            by_hand: false,
            battery: None,
        },
    )
    .await
    .with_context(|| format!("cannot move {}", w.name))
}

/// Sends `words` as `w`'s voice message: sealed on their device in a private bond.
async fn say(w: &Walker, words: &str) -> anyhow::Result<()> {
    let id = uuid::Uuid::now_v7().to_string();
    let message = match &w.sealing {
        Some(sealing) => SendMessage {
            kind: MessageKind::Voice,
            id,
            body: None,
            feeling: None,
            sealed: Some(sealing.seal(MessageKind::Voice.key(), words.as_bytes())?),
        },
        None => SendMessage {
            kind: MessageKind::Voice,
            id,
            body: Some(words.to_owned()),
            feeling: None,
            sealed: None,
        },
    };
    w.api
        .send_message(&message)
        .await
        .with_context(|| format!("{} cannot say {words:?}", w.name))?;
    Ok(())
}

async fn read_bond(w: &Walker) -> anyhow::Result<BondView> {
    bond_of(&w.api)
        .await?
        .with_context(|| format!("{}'s bond ended during the replay", w.name))
}

fn open_tiers(view: &BondView) -> BTreeSet<Tier> {
    view.tiers
        .iter()
        .filter(|(_, v)| v.open)
        .map(|(t, _)| *t)
        .collect()
}
