//! The live link from the command line: `watch` prints every frame as a line a person
//! reads (or the raw JSON), acknowledges each message so the server resumes after it,
//! and reconnects by itself with `?after=SEQ` when the link drops; `think` streams the
//! lines typed on stdin as thoughts.

use std::time::Duration;

use anyhow::Context as _;
use futures_util::{SinkExt as _, StreamExt as _};
use haurach_bond::Tier;
use haurach_bond::thoughts::{Edit, ThoughtText, diff};
use haurach_proto::link::Over;
use haurach_proto::{ClientFrame, ContactState, Problem, ServerFrame, human};
use tokio::io::AsyncBufReadExt as _;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::sealed::{Opened, Sealing};
use super::show;

pub(super) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How often an idle link says it is still there (the server's contact timeout is 60 s
/// by default).
const HEARTBEAT: Duration = Duration::from_secs(15);
/// The longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Reconnection attempts in a row before `watch` gives up.
const MAX_FAILURES: u32 = 40;
/// A thought batch that restarts from the whole text is sent every this many batches, so
/// a receiver that missed one resynchronises.
const RESET_EVERY: u64 = 10;

/// The WebSocket URL of the link: `http` becomes `ws`, `https` becomes `wss`. The token
/// is not in it (URLs end up in proxies' logs): it goes in the `Authorization` header.
pub fn link_url(base: &str, after: Option<i64>) -> String {
    let base = base.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    };
    let mut url = format!("{ws}/api/v1/link");
    if let Some(after) = after {
        url.push_str(&format!("?after={after}"));
    }
    url
}

/// Why a connection attempt failed: worth retrying or not.
pub(super) enum ConnectError {
    /// The server refused us for good (401, 404...): say its detail and stop.
    Fatal(anyhow::Error),
    /// The network or a restarting server: try again.
    Transient(String),
}

pub(super) async fn connect(
    base: &str,
    token: &str,
    after: Option<i64>,
) -> Result<Socket, ConnectError> {
    use tokio_tungstenite::tungstenite::Error;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
    let mut request = link_url(base, after).into_client_request().map_err(|e| {
        ConnectError::Fatal(anyhow::anyhow!("cannot connect the link to {base}: {e}"))
    })?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        ConnectError::Fatal(anyhow::anyhow!(
            "the saved session is damaged: log in again"
        ))
    })?;
    request.headers_mut().insert(header::AUTHORIZATION, bearer);
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(Error::Http(res)) => {
            let status = res.status();
            let detail = res
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice::<Problem>(b).ok())
                .map_or_else(|| format!("the server answered {status}"), |p| p.detail);
            if status.is_server_error() || status.as_u16() == 429 {
                Err(ConnectError::Transient(detail))
            } else {
                Err(ConnectError::Fatal(anyhow::anyhow!("{detail}")))
            }
        }
        Err(Error::Url(e)) => Err(ConnectError::Fatal(anyhow::anyhow!(
            "cannot connect the link to {base}: {e}"
        ))),
        Err(e) => Err(ConnectError::Transient(format!(
            "cannot reach the server at {base}: {e}"
        ))),
    }
}

async fn send(socket: &mut Socket, frame: &ClientFrame) -> anyhow::Result<()> {
    let json = serde_json::to_string(frame).expect("client frames always serialise");
    socket.send(WsMessage::text(json)).await?;
    Ok(())
}

/// Closes the link politely and waits (briefly) for the server's answer, so every frame
/// sent before, acknowledgements included, has been handled when this returns.
pub(super) async fn close(socket: &mut Socket) {
    let _ = socket.close(None).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
}

/// What a person sees of the link: it remembers who is who and the partner's thought,
/// and in a private bond opens what was sealed.
#[derive(Default)]
pub struct LinkView {
    me: String,
    partner: Option<String>,
    thought: ThoughtText,
    sealing: Option<Sealing>,
    /// The counter of the newest sealed thought shown: an older one that arrives after
    /// it is not shown over it.
    thought_counter: u64,
    /// Whether sight is open, as the hello and the tier frames since said: a private
    /// bond's pull, worked out here, is exact only while it is.
    sight: bool,
    /// The bond's profile, for the strength of a pull worked out here.
    profile: haurach_bond::Profile,
}

impl LinkView {
    fn partner(&self) -> &str {
        self.partner.as_deref().unwrap_or("your partner")
    }

    /// The line for a frame; `None` for frames with nothing to tell a person.
    pub fn line(&mut self, frame: &ServerFrame) -> Option<String> {
        Some(match frame {
            ServerFrame::Hello { you, bond, .. } => {
                self.me = you.clone();
                let before = self.partner.take();
                self.partner = bond.as_ref().map(|b| b.partner.clone());
                if let Some(b) = bond {
                    self.sight = super::sealed::tiers_of(b).is_open(Tier::Sight);
                    self.profile = b.profile;
                }
                // In a private bond the pull is worked out here.
                let view = match (&self.sealing, bond) {
                    (Some(sealing), Some(b)) => sealing.with_pull((**b).clone()).ok(),
                    (_, b) => b.as_deref().cloned(),
                };
                let linked = match &view {
                    Some(b) => format!("linked as {you}; {}", show::bond_sentence(b)),
                    None => format!("linked as {you}; no partner yet (haurach invite)"),
                };
                // A bond that ended while the link was down (its `bond_ended` frame went
                // to no link): said, rather than the partner silently gone.
                match before {
                    Some(p) if self.partner.as_deref() != Some(p.as_str()) => {
                        format!("the bond with {p} was ended\n{linked}")
                    }
                    _ => linked,
                }
            }
            ServerFrame::Pull {
                pull,
                strength,
                next_tier,
                ..
            } => {
                let line =
                    show::pull_sentence(self.partner(), Some(pull), *strength, next_tier.as_ref());
                match show::vitals(pull) {
                    Some(vitals) => format!("{line}; {vitals}"),
                    None => line,
                }
            }
            ServerFrame::Locate { by } => {
                format!("{by} asks where you are now (a position you send answers)")
            }
            ServerFrame::Tier {
                tier,
                open: true,
                range_m,
            } => {
                if *tier == Tier::Sight {
                    self.sight = true;
                }
                format!("{} opened ({})", tier.key(), show::range(*range_m))
            }
            ServerFrame::Tier {
                tier,
                open: false,
                range_m,
            } => match range_m {
                _ if *tier == Tier::Sight && self.sight => {
                    self.sight = false;
                    return self.line(frame);
                }
                Some(r) => format!(
                    "{} closed (you drifted past {})",
                    tier.key(),
                    human::distance(r * haurach_bond::TierState::HYSTERESIS)
                ),
                None => format!("{} closed", tier.key()),
            },
            ServerFrame::Contact {
                who,
                state,
                lost_for_ms,
                last_heard_ms,
            } => {
                let mine = who.eq_ignore_ascii_case(&self.me);
                match (state, mine) {
                    (ContactState::Lost, false) => match last_heard_ms {
                        Some(at) => format!(
                            "contact with {who} lost (last heard {} ago)",
                            human::duration_ms((now_unix_ms() - at).max(0))
                        ),
                        None => format!("contact with {who} lost"),
                    },
                    (ContactState::Lost, true) => {
                        format!(
                            "your link went silent: {} lost contact with you",
                            self.partner()
                        )
                    }
                    (ContactState::Live, _) => {
                        let whose = if mine {
                            "your contact".to_owned()
                        } else {
                            format!("contact with {who}")
                        };
                        match lost_for_ms.filter(|ms| *ms > 0) {
                            Some(ms) => {
                                format!("{whose} restored after {}", human::duration_ms(ms))
                            }
                            None => format!("{whose} is live"),
                        }
                    }
                }
            }
            ServerFrame::Paused { who, until } => {
                let (who, they) = if who.eq_ignore_ascii_case(&self.me) {
                    ("you", "you")
                } else {
                    (who.as_str(), "they")
                };
                match until {
                    Some(until) => {
                        format!("{who} paused sharing {}", super::pause::until_text(*until))
                    }
                    None => format!("{who} paused sharing until {they} resume"),
                }
            }
            ServerFrame::Resumed { who } => {
                if who.eq_ignore_ascii_case(&self.me) {
                    "you are sharing again".to_owned()
                } else {
                    format!("{who} is sharing again")
                }
            }
            ServerFrame::Stretch {
                who,
                jump_m,
                speed_kmh,
            } => {
                let who = if who.eq_ignore_ascii_case(&self.me) {
                    "you"
                } else {
                    who.as_str()
                };
                show::stretch(who, *jump_m, *speed_kmh)
            }
            ServerFrame::Message { message } => match &self.sealing {
                Some(sealing) => show::message(&self.me, &sealing.open_message(&self.me, message)),
                None => show::message(&self.me, message),
            },
            ServerFrame::Letter { letter } => match letter.state {
                haurach_proto::LetterState::Returned => format!(
                    "your letter to {} came back unopened (haurach letter inbox)",
                    letter.to
                ),
                _ => format!(
                    "a letter from {} is in your hands{} (haurach letter inbox)",
                    letter.from,
                    if letter.parcels.is_empty() {
                        ""
                    } else {
                        ", with a parcel"
                    }
                ),
            },
            ServerFrame::LetterReceipt { letter } => match letter.state {
                haurach_proto::LetterState::Read => format!("{} read your letter", letter.to),
                _ => format!("your letter reached {}", letter.to),
            },
            ServerFrame::Summons { summons } => {
                let pull = match (summons.bearing_deg, summons.distance_m) {
                    (Some(b), Some(d)) => format!(
                        ", {} {}",
                        haurach_bond::geo::compass_point(b),
                        human::distance(d)
                    ),
                    _ => String::new(),
                };
                format!(
                    "SUMMONS: {} summons {} ({}){pull}; haurach summons list",
                    summons.from,
                    summons.to,
                    summons.state.key()
                )
            }
            ServerFrame::Application { arrival } => format!(
                "{} applied at the gate: haurach gate queue",
                arrival.account.name
            ),
            ServerFrame::PartnerSummoned { partner, by } => {
                format!(
                    "the bond stretches: {partner} answered {by}'s summons and is going to them"
                )
            }
            ServerFrame::Sent { id, seq } => format!("sent #{seq} ({id})"),
            ServerFrame::Trace { from, trace } if trace.end => match &trace.over {
                Over::Sight(whose) if whose.eq_ignore_ascii_case(&self.me) => {
                    format!("{from} traced a line over what you see")
                }
                Over::Sight(_) => format!("{from} traced a line over what they see"),
                over => format!("{from} traced a line over {over}"),
            },
            ServerFrame::Trace { .. } => return None,
            ServerFrame::SealedTrace { sealed } => {
                let opened = self
                    .sealing
                    .as_ref()
                    .and_then(|s| s.open(false, haurach_proto::sealed::TRACE, sealed))
                    .and_then(|(_, json)| serde_json::from_slice(&json).ok());
                let Some(trace) = opened else {
                    return Some(format!(
                        "(a stroke from {} is sealed and does not open on this device)",
                        self.partner()
                    ));
                };
                let from = self.partner().to_owned();
                return self.line(&ServerFrame::Trace { from, trace });
            }
            ServerFrame::GlimpseAsked { by, .. } => {
                format!("{by} asks for a glimpse through your camera (answer from the web client)")
            }
            ServerFrame::SightRate { .. } | ServerFrame::GlimpseSent { .. } => return None,
            ServerFrame::AlarmAcknowledged { seq, by } => {
                if by.eq_ignore_ascii_case(&self.me) {
                    format!("you acknowledged alarm #{seq}")
                } else {
                    format!("{by} acknowledged alarm #{seq}")
                }
            }
            ServerFrame::Thought { seq, reset, edits } => {
                let before = self.thought.text().to_owned();
                if !self.thought.apply(*seq, *reset, edits) {
                    return Some(format!(
                        "({}'s thought is out of step; it comes back with the next reset)",
                        self.partner()
                    ));
                }
                return self.thought_line(&before);
            }
            ServerFrame::SealedThought { sealed } => {
                let opened = self
                    .sealing
                    .as_ref()
                    .map_or(Opened::Unopenable, |s| s.open_thought(sealed));
                let (counter, text) = match opened {
                    Opened::Shown(thought) => thought,
                    Opened::Unopenable => {
                        return Some(format!(
                            "({}'s thought is sealed and does not open on this device)",
                            self.partner()
                        ));
                    }
                    Opened::Replayed => {
                        return Some(format!(
                            "({}'s earlier thought was sent again by the server, so it is not shown)",
                            self.partner()
                        ));
                    }
                    Opened::Older => return None,
                };
                if counter < self.thought_counter {
                    return None;
                }
                self.thought_counter = counter;
                let before = self.thought.text().to_owned();
                self.thought
                    .apply(counter, true, &[Edit::Insert { pos: 0, text }]);
                return self.thought_line(&before);
            }
            ServerFrame::PartnerSealedFix { sealed, at } => {
                let sealing = self.sealing.as_ref()?;
                let partner = match sealing.opened_fix(sealed) {
                    Opened::Shown(partner) => partner,
                    Opened::Unopenable => {
                        return Some(format!(
                            "({}'s position is sealed and does not open on this device)",
                            self.partner()
                        ));
                    }
                    Opened::Replayed => {
                        return Some(format!(
                            "({}'s earlier position was sent again by the server, so it is not shown)",
                            self.partner()
                        ));
                    }
                    Opened::Older => return None,
                };
                // The stretch their device sealed with this position, told once (it is
                // kept only the first time the position opens), as the plain bond's
                // server tells it.
                let stretched = |line: String| match partner.stretch {
                    Some(s) => format!(
                        "{}\n{line}",
                        show::stretch(self.partner(), s.jump_m, s.speed_kmh())
                    ),
                    None => line,
                };
                let Ok(Some(me)) = sealing.last_fix() else {
                    return Some(stretched(format!(
                        "{} moved (where you are is not known on this device yet: haurach move LAT LON)",
                        self.partner()
                    )));
                };
                let (mut pull, strength) =
                    super::sealed::pull_toward(&me, &partner, self.sight, self.profile);
                pull.seen_at = *at;
                let line = show::pull_sentence(self.partner(), Some(&pull), strength, None);
                let line = match show::vitals(&pull) {
                    Some(vitals) => format!("{line}; {vitals}"),
                    None => line,
                };
                stretched(line)
            }
            ServerFrame::Guard { on: true } => format!("{} guarded their thoughts", self.partner()),
            ServerFrame::Guard { on: false } => {
                format!("{} unguarded their thoughts", self.partner())
            }
            ServerFrame::Bonded { bond } => {
                self.partner = Some(bond.partner.clone());
                format!(
                    "bonded with {} ({} profile)",
                    bond.partner,
                    bond.profile.key()
                )
            }
            ServerFrame::BondEnded => {
                let line = format!("the bond with {} was ended", self.partner());
                self.partner = None;
                line
            }
            ServerFrame::PlacesChanged { who } => {
                if who.eq_ignore_ascii_case(&self.me) {
                    "your places changed (haurach place list)".to_owned()
                } else {
                    format!("{who}'s places changed (haurach place list)")
                }
            }
            ServerFrame::Place(news) => {
                let who = if news.who.eq_ignore_ascii_case(&self.me) {
                    "you"
                } else {
                    news.who.as_str()
                };
                match news.event {
                    haurach_proto::PlaceEvent::Arrived => {
                        format!("{who} arrived at {}", news.place)
                    }
                    haurach_proto::PlaceEvent::Left => format!("{who} left {}", news.place),
                }
            }
            // Sent on every move: a line each would drown the rest; `haurach meet` shows it.
            ServerFrame::Meeting { .. } => return None,
            ServerFrame::MeetingReached { who } => {
                if who.eq_ignore_ascii_case(&self.me) {
                    "you reached the meeting point".to_owned()
                } else {
                    format!("{who} reached the meeting point")
                }
            }
            ServerFrame::Error { id, problem } => match id {
                Some(id) => format!("error ({id}): {}", problem.detail),
                None => format!("error: {}", problem.detail),
            },
        })
    }
}

impl LinkView {
    /// The line for the partner's thought after it changed from `before`; `None` when it
    /// reads the same.
    fn thought_line(&self, before: &str) -> Option<String> {
        let text = self.thought.text();
        if text == before {
            return None;
        }
        Some(if text.is_empty() {
            format!("{} stopped thinking aloud", self.partner())
        } else {
            format!("{} is thinking: {text}", self.partner())
        })
    }
}

/// Options of `watch`.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Print raw frames.
    pub json: bool,
    /// Stop after this many messages.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Resume after this sequence number instead of where the server left off.
    pub after: Option<i64>,
}

/// `haurach watch`.
pub async fn watch(
    base: &str,
    token: &str,
    opts: WatchOptions,
    sealing: Option<Sealing>,
) -> anyhow::Result<()> {
    let deadline = opts.duration.map(|d| Instant::now() + d);
    let mut view = LinkView {
        sealing,
        ..LinkView::default()
    };
    let mut resume = opts.after;
    let mut n_messages = 0u64;
    let mut failures = 0u32;
    if opts.count == Some(0) {
        return Ok(());
    }
    loop {
        let attempt = connect(base, token, resume);
        let connected = match deadline {
            Some(d) => match tokio::time::timeout_at(d, attempt).await {
                Ok(res) => res,
                Err(_) => return out_of_time(opts.count, n_messages),
            },
            None => attempt.await,
        };
        let why = match connected {
            Err(ConnectError::Fatal(e)) => return Err(e),
            Err(ConnectError::Transient(why)) => why,
            Ok(mut socket) => {
                let ended = session(
                    &mut socket,
                    &mut view,
                    &mut resume,
                    &mut n_messages,
                    &mut failures,
                    opts,
                    deadline,
                )
                .await?;
                match ended {
                    Ended::Done => {
                        close(&mut socket).await;
                        return Ok(());
                    }
                    Ended::OutOfTime => {
                        close(&mut socket).await;
                        return out_of_time(opts.count, n_messages);
                    }
                    Ended::Dropped(why) => why,
                }
            }
        };
        failures += 1;
        if failures > MAX_FAILURES {
            anyhow::bail!("gave up after {MAX_FAILURES} attempts to reconnect: {why}");
        }
        let wait = backoff(failures);
        let secs = wait.as_secs_f64();
        match resume {
            Some(after) => {
                eprintln!("link dropped ({why}); reconnecting in {secs:.1} s with ?after={after}")
            }
            None => eprintln!("link dropped ({why}); reconnecting in {secs:.1} s"),
        }
        let wake = Instant::now() + wait;
        match deadline {
            Some(d) if d <= wake => {
                tokio::time::sleep_until(d).await;
                return out_of_time(opts.count, n_messages);
            }
            _ => tokio::time::sleep_until(wake).await,
        }
    }
}

/// 0.5 s, 1 s, 2 s... up to [`MAX_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    let ms = 500u64.saturating_mul(1 << failures.saturating_sub(1).min(10));
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

fn out_of_time(count: Option<u64>, seen: u64) -> anyhow::Result<()> {
    match count {
        Some(n) if seen < n => {
            anyhow::bail!("saw {seen} of {n} messages before the time given with --for ran out")
        }
        _ => Ok(()),
    }
}

enum Ended {
    Done,
    OutOfTime,
    Dropped(String),
}

async fn session(
    socket: &mut Socket,
    view: &mut LinkView,
    resume: &mut Option<i64>,
    n_messages: &mut u64,
    failures: &mut u32,
    opts: WatchOptions,
    deadline: Option<Instant>,
) -> anyhow::Result<Ended> {
    let mut heartbeat = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    let far = Instant::now() + Duration::from_secs(100 * 365 * 86_400);
    loop {
        let incoming = tokio::select! {
            incoming = socket.next() => incoming,
            _ = heartbeat.tick() => {
                if let Err(e) = send(socket, &ClientFrame::Heartbeat).await {
                    return Ok(Ended::Dropped(e.to_string()));
                }
                continue;
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or(far)) => return Ok(Ended::OutOfTime),
        };
        let text = match incoming {
            None => return Ok(Ended::Dropped("the server closed the connection".into())),
            Some(Err(e)) => return Ok(Ended::Dropped(e.to_string())),
            Some(Ok(WsMessage::Text(text))) => text,
            Some(Ok(WsMessage::Close(frame))) => {
                let why = frame
                    .map(|f| f.reason.to_string())
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "the server closed the link".into());
                return Ok(Ended::Dropped(why));
            }
            Some(Ok(_)) => continue,
        };
        let frame: ServerFrame = match serde_json::from_str(text.as_str()) {
            Ok(frame) => frame,
            Err(e) => {
                if opts.json {
                    outln!("{text}");
                } else {
                    eprintln!("a frame this client does not know ({e}): {text}");
                }
                continue;
            }
        };
        if opts.json {
            outln!("{text}");
        } else if let Some(line) = view.line(&frame) {
            if matches!(frame, ServerFrame::Error { .. }) {
                eprintln!("{line}");
            } else {
                outln!("{line}");
            }
        }
        match &frame {
            ServerFrame::Hello { resume_after, .. } => {
                *failures = 0;
                if resume.is_none() {
                    *resume = Some(*resume_after);
                }
            }
            ServerFrame::Message { message } => {
                *resume = Some(message.seq);
                // Printed: the server may resume after it next time.
                send(socket, &ClientFrame::Ack { seq: message.seq }).await?;
                *n_messages += 1;
                if opts.count.is_some_and(|n| *n_messages >= n) {
                    return Ok(Ended::Done);
                }
            }
            _ => {}
        }
    }
}

/// `haurach think`: each line typed becomes the thought the partner sees. In a private
/// bond (`sealing`) each line is sealed whole, and a line typed while thoughts are closed
/// is never sent.
pub async fn think(base: &str, token: &str, sealing: Option<Sealing>) -> anyhow::Result<()> {
    let mut socket = match connect(base, token, None).await {
        Ok(s) => s,
        Err(ConnectError::Fatal(e)) => return Err(e),
        Err(ConnectError::Transient(why)) => anyhow::bail!("{why}"),
    };
    // The hello says whether thoughts can pass at all: the server drops them silently
    // when they cannot, so the person is told here.
    let hello = loop {
        match socket.next().await {
            Some(Ok(WsMessage::Text(text))) => {
                if let Ok(frame @ ServerFrame::Hello { .. }) = serde_json::from_str(text.as_str()) {
                    break frame;
                }
            }
            Some(Ok(_)) => {}
            _ => anyhow::bail!("the link closed before it said hello"),
        }
    };
    let ServerFrame::Hello { bond, .. } = hello else {
        unreachable!("matched above")
    };
    let Some(bond) = bond else {
        anyhow::bail!("you have no partner yet: make an invite or accept your partner's");
    };
    let partner = bond.partner.clone();
    let mut open = true;
    match bond.tiers.get(&Tier::Thoughts) {
        Some(t) if !t.open => {
            open = false;
            if sealing.is_some() {
                eprintln!(
                    "thoughts are closed ({}): nothing you type leaves this device until you \
                     come closer",
                    show::range(t.range_m)
                );
            } else {
                eprintln!(
                    "thoughts are closed ({}): {partner} will not hear them until you come closer",
                    show::range(t.range_m)
                );
            }
        }
        _ => eprintln!("thinking to {partner}: each line you type replaces your thought"),
    }

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut text = String::new();
    let mut seq: u64 = 0;
    let mut heartbeat = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Some(line) = line.context("cannot read stdin")? else { break };
                if let Some(sealing) = &sealing {
                    // A private bond: held back while thoughts are closed, and sealed whole
                    // (the server cannot apply edits to what it cannot read).
                    if open {
                        let sealed = sealing.seal(haurach_proto::sealed::THOUGHT, line.as_bytes())?;
                        send(&mut socket, &ClientFrame::SealedThought { sealed }).await?;
                    } else {
                        eprintln!("thoughts are closed: this one stays on this device");
                    }
                    continue;
                }
                let reset = seq == 0 || seq.is_multiple_of(RESET_EVERY);
                let edits = if reset {
                    vec![Edit::Insert { pos: 0, text: line.clone() }]
                } else {
                    diff(&text, &line)
                };
                send(&mut socket, &ClientFrame::Thought { seq, reset, edits }).await?;
                seq += 1;
                text = line;
            }
            incoming = socket.next() => match incoming {
                Some(Ok(WsMessage::Text(t))) => {
                    if let Ok(ServerFrame::Error { problem, .. }) = serde_json::from_str(t.as_str()) {
                        eprintln!("error: {}", problem.detail);
                    } else if let Ok(ServerFrame::Tier { tier: Tier::Thoughts, open: now, .. }) = serde_json::from_str(t.as_str()) {
                        open = now;
                        let state = if now { "opened" } else { "closed" };
                        eprintln!("thoughts {state}");
                    }
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => {
                    anyhow::bail!("the link dropped");
                }
                Some(Ok(_)) => {}
            },
            _ = heartbeat.tick() => send(&mut socket, &ClientFrame::Heartbeat).await?,
        }
    }
    close(&mut socket).await;
    Ok(())
}

/// Now, in Unix milliseconds (the clock the server's times are in).
fn now_unix_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_urls() {
        assert_eq!(
            link_url("http://127.0.0.1:7420/", None),
            "ws://127.0.0.1:7420/api/v1/link"
        );
        assert_eq!(
            link_url("https://city.example", Some(12)),
            "wss://city.example/api/v1/link?after=12"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(2));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn a_bond_that_ended_while_the_link_was_down_is_said_on_relinking() {
        let mut view = LinkView {
            me: "spike".into(),
            partner: Some("amethyst".into()),
            ..LinkView::default()
        };
        let line = view.line(&ServerFrame::Hello {
            you: "spike".into(),
            bond: None,
            resume_after: 0,
        });
        assert_eq!(
            line.as_deref(),
            Some(
                "the bond with amethyst was ended\nlinked as spike; no partner yet (haurach invite)"
            )
        );
        // Linking again with no partner before says nothing more.
        let line = view.line(&ServerFrame::Hello {
            you: "spike".into(),
            bond: None,
            resume_after: 0,
        });
        assert_eq!(
            line.as_deref(),
            Some("linked as spike; no partner yet (haurach invite)")
        );
    }

    #[test]
    fn thoughts_show_as_the_current_text() {
        let mut view = LinkView {
            me: "spike".into(),
            partner: Some("amethyst".into()),
            ..LinkView::default()
        };
        let insert = |pos, text: &str| Edit::Insert {
            pos,
            text: text.into(),
        };
        let line = view.line(&ServerFrame::Thought {
            seq: 0,
            reset: true,
            edits: vec![insert(0, "I wonder")],
        });
        assert_eq!(line.as_deref(), Some("amethyst is thinking: I wonder"));
        let line = view.line(&ServerFrame::Thought {
            seq: 1,
            reset: false,
            edits: vec![insert(8, " if he's attractive")],
        });
        assert_eq!(
            line.as_deref(),
            Some("amethyst is thinking: I wonder if he's attractive")
        );
        let gap = view.line(&ServerFrame::Thought {
            seq: 5,
            reset: false,
            edits: vec![],
        });
        assert!(gap.unwrap().contains("out of step"));
    }

    /// Spike's view of his private bond with amethyst under `key`, opening what is sealed.
    fn spikes_sealed_view(key: &haurach_private::BondKey, bond: uuid::Uuid) -> LinkView {
        LinkView {
            me: "spike".into(),
            partner: Some("amethyst".into()),
            sealing: Some(Sealing::in_memory(
                key.clone(),
                bond,
                haurach_private::Role::Accepter,
                300.0,
            )),
            ..LinkView::default()
        }
    }

    #[test]
    fn a_sealed_stroke_is_told_when_it_ends_and_one_that_does_not_open_says_so() {
        use haurach_private::{BondKey, Role, Sealer};
        use haurach_proto::link::{Over, Trace};
        use haurach_proto::sealed::{Envelope, TRACE};

        let key = BondKey::from_bytes([7; 32]);
        let bond = uuid::Uuid::nil();
        let mut view = spikes_sealed_view(&key, bond);
        let hers = |trace: &Trace, counter| {
            Envelope {
                bond,
                from: Role::Inviter,
                kind: TRACE,
            }
            .seal(
                &Sealer::new(&key),
                counter,
                &serde_json::to_vec(trace).unwrap(),
            )
            .unwrap()
        };
        let mut stroke = Trace {
            over: Over::Sight("spike".into()),
            stroke: 1,
            points: vec![[0.1, 0.2]],
            end: false,
        };
        let part = hers(&stroke, 1);
        assert_eq!(view.line(&ServerFrame::SealedTrace { sealed: part }), None);
        stroke.end = true;
        let end = hers(&stroke, 2);
        assert_eq!(
            view.line(&ServerFrame::SealedTrace { sealed: end })
                .as_deref(),
            Some("amethyst traced a line over what you see")
        );
        // Sealed by another key: it does not open, and says so.
        let other = Envelope {
            bond,
            from: Role::Inviter,
            kind: TRACE,
        }
        .seal(
            &Sealer::new(&BondKey::from_bytes([8; 32])),
            3,
            &serde_json::to_vec(&stroke).unwrap(),
        )
        .unwrap();
        assert_eq!(
            view.line(&ServerFrame::SealedTrace { sealed: other })
                .as_deref(),
            Some("(a stroke from amethyst is sealed and does not open on this device)")
        );
    }

    /// A private bond's stretch, sealed in the partner's position by their device, reads
    /// as the plain bond's `stretch` frame, and is told once: not again when the server
    /// sends the same position as the newest.
    #[test]
    fn a_sealed_stretch_is_told_once_with_the_plain_bonds_words() {
        use haurach_private::{BondKey, Role, Sealer};
        use haurach_proto::sealed::{Envelope, FixContent, POSITION, StretchContent};

        let key = BondKey::from_bytes([7; 32]);
        let bond = uuid::Uuid::nil();
        let mut view = spikes_sealed_view(&key, bond);
        let plain = view
            .line(&ServerFrame::Stretch {
                who: "amethyst".into(),
                jump_m: 50_000.0,
                speed_kmh: 3_000.0,
            })
            .unwrap();
        assert_eq!(
            plain,
            "the bond stretched: amethyst jumped 50 km (as fast as 3000 km/h)"
        );
        let content = FixContent {
            lat: 23.1,
            lon: 53.7,
            reach_m: 4_000.0,
            exact: false,
            stretch: Some(StretchContent {
                jump_m: 50_000.0,
                over_ms: 60_000,
            }),
        };
        let sealed = Envelope {
            bond,
            from: Role::Inviter,
            kind: POSITION,
        }
        .seal(&Sealer::new(&key), 1, &content.sealed_bytes())
        .unwrap();
        let frame = ServerFrame::PartnerSealedFix { sealed, at: None };
        let first = view.line(&frame).unwrap();
        assert_eq!(first.lines().next(), Some(plain.as_str()), "{first}");
        assert!(first.contains("amethyst moved"), "{first}");
        let again = view.line(&frame).unwrap();
        assert!(!again.contains("stretched"), "{again}");
        assert!(again.contains("amethyst moved"), "{again}");
    }
}
