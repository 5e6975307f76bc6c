//! The client commands: they talk to a server over HTTP and the live link, as the
//! citizen whose session the sessions file holds (see [`sessions`]).
//!
//! - [`api`]: the HTTP client (wire types in and out, problem details as errors).
//! - [`link`]: `watch` and `think` over the live link.
//! - [`places`]: `place`, `meet` and `journey`.
//! - [`devices`]: `device` (passwords for the OwnTracks app).
//! - [`pictures`]: `send-image`, `picture`, `remember` and `memories`.
//! - [`private`] and [`sealed`]: a private bond's keys, token reports, and the content
//!   sealed and opened on this device.
//! - [`show`]: the bond and the link's frames as a person reads them.
//! - [`sessions`]: who is logged in where.
//! - [`password`]: `--password`, or asked without echo.

pub mod api;
pub mod city;
pub mod context;
pub mod devices;
pub mod link;
pub mod locate;
pub mod password;
pub mod pause;
pub mod pictures;
pub mod place_book;
pub mod places;
pub mod private;
pub mod sealed;
pub mod sealed_places;
pub mod sessions;
pub mod show;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use haurach_bond::Profile;
use haurach_proto::{
    AcceptInvite, Account, BondView, Credentials, Feeling, Invite, Message, MessageKind,
    PositionUpdate, SendMessage, Session,
};
use reqwest::Method;

use crate::replay::ReplayArgs;
use crate::walk::WalkArgs;
use api::Api;
pub use context::{Context, DEFAULT_SERVER};
pub(crate) use password::{PasswordArg, password_for};
use sessions::Sessions;

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Come in through the city's gate (create an account), and log in as it
    ///
    /// The password comes from --password, else HAURACH_PASSWORD, else it is asked for
    /// (twice, without echo) when stdin is a terminal, else it is read as one line of
    /// stdin. A name is 1 to 32 letters, digits, '-', '_' or '.'; a password at least 8
    /// characters.
    ///
    /// The first account of a new city is the tower's (its admin). After that, an open
    /// gate lets anyone in; an application gate (the default) writes you in the
    /// gatekeeper's book (--called is required there) and waits for the tower's answer
    /// (see `haurach gate status`); an invite-only gate needs --invite CODE.
    ///
    /// Examples:
    ///   haurach register amethyst
    ///   echo 'reaching-west-too' | haurach register amethyst
    ///   haurach register twilight --called Twilight --family-name Sparkle \
    ///       --from "the desert" --age 19 --calling "letter bearer" --note "a pull"
    ///   haurach register rarity --invite K7QF-3MZP
    #[command(verbatim_doc_comment)]
    Register {
        /// Your name.
        name: String,
        #[command(flatten)]
        password: PasswordArg,
        #[command(flatten)]
        book: city::BookArgs,
        /// An invite code, for a city whose gate is invite-only.
        #[arg(long, value_name = "CODE")]
        invite: Option<String>,
    },
    /// Log in, and remember the session (in HOME/sessions.toml, mode 0600)
    ///
    /// The one who logged in last acts by default; pick another with --as NAME. The
    /// password comes as for register.
    ///
    /// Examples:
    ///   haurach login spike
    ///   HAURACH_PASSWORD=... haurach --server http://city.example:7420 login spike
    #[command(verbatim_doc_comment)]
    Login {
        /// Your name.
        name: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// End the session on the server and forget it here
    ///
    /// Examples:
    ///   haurach logout
    ///   haurach --as spike logout
    #[command(verbatim_doc_comment)]
    Logout,
    /// Make an invite code for your partner (it works for 24 hours)
    ///
    /// Prints the code and the exact command your partner types to accept it.
    ///
    /// With --private the bond is private (docs/privacy.md): the code is a longer secret
    /// the server never sees, this device keeps its keys (in HOME/private.toml, mode
    /// 0600), and the server opens the tiers from tokens without learning where either of
    /// you is. --qr writes the code as a QR code (SVG) too.
    ///
    /// Examples:
    ///   haurach invite
    ///   # your partner: haurach accept K7QF-3MZP
    ///   haurach invite --private --qr invite.svg
    ///   # your partner: haurach accept HP1-MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OBYX-E43U
    #[command(verbatim_doc_comment)]
    Invite {
        /// Make a private bond's invite.
        #[arg(long)]
        private: bool,
        /// Write the private invite's QR code, as SVG, to this file.
        #[arg(long, value_name = "FILE", requires = "private")]
        qr: Option<PathBuf>,
    },
    /// Accept your partner's invite code and bond with them
    ///
    /// The profile sets the distances at which things pass: "story" (feelings at 20 km,
    /// sight at 2 km), "city" (feelings at 1 km, sight at 100 m) or "open" (everything at
    /// any range, memories still within 25 m).
    ///
    /// A private invite's code (HP1-...) makes a private bond: this device keeps its keys,
    /// and confirms them with your partner's device the next time either uses haurach.
    /// The link its QR code holds (.../#accept=HP1-...) may be given instead of the code.
    ///
    /// Examples:
    ///   haurach accept K7QF-3MZP
    ///   haurach --as spike accept k7qf3mzp --profile city
    #[command(verbatim_doc_comment)]
    Accept {
        /// The code, as your partner gave it (case and dashes do not matter).
        code: String,
        /// The distances of the bond: story, city or open [default: story].
        #[arg(long, value_parser = parse_profile)]
        profile: Option<Profile>,
    },
    /// End your bond
    ///
    /// Example:
    ///   haurach unbond
    #[command(verbatim_doc_comment)]
    Unbond,
    /// Where your partner is, and what passes between you at this distance
    ///
    /// Beyond sight range the pull is coarsened (bearing to 5°, distance to two
    /// significant figures); within it, the exact position is shown. On a private bond
    /// the server knows no position: the pull is worked out on this device, from your
    /// latest move and your partner's sealed position.
    ///
    /// Examples:
    ///   haurach where
    ///   # amethyst is east-north-east, 17 km away (strength 0.03); voice opens in 300 m
    ///   haurach where --json | jq .pull
    #[command(verbatim_doc_comment)]
    Where {
        /// Print the bond as the API gives it (JSON).
        #[arg(long)]
        json: bool,
    },
    /// Ask your partner where they are now, and wait for the answer
    ///
    /// Their open page answers at once with a fresh fix; their OwnTracks app at its next
    /// post; their devices are notified. Once a minute at most. How fresh the answer is
    /// and their battery show while the feelings tier is open.
    ///
    /// Examples:
    ///   haurach locate
    ///   # spike answered: east, 14 km away (strength 0.05); last seen 2 s ago
    ///   haurach locate --for 5   # wait at most 5 s
    #[command(verbatim_doc_comment)]
    Locate {
        /// Wait at most this many seconds for the answer.
        #[arg(long = "for", value_name = "SECONDS", default_value_t = 30.0)]
        for_s: f64,
    },
    /// Say something to your partner (needs the voice tier)
    ///
    /// The message is stored before this returns; if the network fails it is sent again
    /// with the same id, so it never arrives twice.
    ///
    /// Examples:
    ///   haurach say "You miss someone as well, don't you?"
    ///   haurach say I HEARD that     # the words need no quotes
    #[command(verbatim_doc_comment)]
    Say {
        /// The words.
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        text: Vec<String>,
    },
    /// Send a feeling (needs the feelings tier)
    ///
    /// Feelings: calm, joy, pleasure, victory, love, longing, sadness, fear.
    ///
    /// Example:
    ///   haurach feel calm
    #[command(verbatim_doc_comment)]
    Feel {
        /// One of calm, joy, pleasure, victory, love, longing, sadness, fear.
        #[arg(value_parser = parse_feeling)]
        feeling: Feeling,
    },
    /// Raise an alarm: it goes through at any range, until your partner acknowledges it
    ///
    /// Examples:
    ///   haurach alarm
    ///   haurach alarm the sand is moving
    #[command(verbatim_doc_comment)]
    Alarm {
        /// What is wrong (optional).
        #[arg(num_args = 0.., allow_hyphen_values = true)]
        text: Vec<String>,
    },
    /// Send a picture to your partner (needs the images tier)
    ///
    /// JPEG, PNG or WebP. The server strips every piece of metadata (EXIF, so where it
    /// was taken, above all) before your partner sees it, and keeps your original for
    /// you. Your partner sees it at the size your closeness allows: a thumbnail at the
    /// edge of the images tier, full size within sight range; it sharpens as you come
    /// closer and never blurs again. In a private bond this device strips it, makes
    /// each size your closeness may allow, and seals them: the server never sees it.
    ///
    /// Examples:
    ///   haurach send-image sunset.jpg
    ///   haurach --as spike send-image constellation.png
    #[command(verbatim_doc_comment)]
    SendImage {
        /// The picture file.
        file: PathBuf,
    },
    /// List the pictures of your bond, or save one
    ///
    /// Without an id, lists every picture with how sharp you may see it now. With one,
    /// saves it (at the size allowed now) to --out, or ID.jpg in this directory.
    ///
    /// Examples:
    ///   haurach picture
    ///   haurach picture 0198c0de-... --out sky.jpg
    ///   haurach picture 0198c0de-... --side 256     # a smaller one
    #[command(verbatim_doc_comment)]
    Picture {
        /// The image's id (as `picture` lists it, or `watch` shows it).
        id: Option<String>,
        /// Where to save it.
        #[arg(long, short, value_name = "FILE", requires = "id")]
        out: Option<PathBuf>,
        /// At most this many pixels on its longest side.
        #[arg(long, value_name = "PX", requires = "id")]
        side: Option<u32>,
    },
    /// Write in your private journal (words, or a photo with --photo)
    ///
    /// Your journal opens to your partner when you are together (within 25 m), and what
    /// opened stays shared; what you write while apart stays yours until next time. A
    /// photo loses its metadata (its location above all) before it is kept.
    ///
    /// Examples:
    ///   haurach remember the Glass Needle at dusk
    ///   haurach remember --photo needle.jpg the Needle from the bridge
    #[command(verbatim_doc_comment)]
    Remember {
        /// The words (or the photo's caption).
        #[arg(num_args = 0.., allow_hyphen_values = true)]
        text: Vec<String>,
        /// A photo to keep.
        #[arg(long, value_name = "FILE")]
        photo: Option<PathBuf>,
    },
    /// Read your journal, or with --partner what of your partner's has opened to you
    ///
    /// Examples:
    ///   haurach memories
    ///   haurach memories --partner
    #[command(verbatim_doc_comment)]
    Memories {
        /// Your partner's journal instead of yours.
        #[arg(long)]
        partner: bool,
        /// Save the journal's photos in this directory (opened here in a private bond).
        #[arg(long, value_name = "DIR")]
        photos: Option<PathBuf>,
    },
    /// Acknowledge your partner's alarm
    ///
    /// Example:
    ///   haurach ack 14      # the number `where` and `watch` show
    #[command(verbatim_doc_comment)]
    Ack {
        /// The alarm's sequence number.
        seq: i64,
    },
    /// Say where you are (one position)
    ///
    /// On a private bond the server is sent token reports of it, and your partner a
    /// position rounded on this device to what the open tiers allow (exact within sight,
    /// beyond it an area at least a tenth of your distance across) and sealed.
    ///
    /// Examples:
    ///   haurach move 23.12036 53.66059
    ///   haurach move -- -33.92 18.42 --accuracy 15
    #[command(verbatim_doc_comment, allow_negative_numbers = true)]
    Move {
        /// Latitude, degrees in [-90, 90].
        lat: f64,
        /// Longitude, degrees in [-180, 180].
        lon: f64,
        /// How sure you are of it, metres.
        #[arg(long, value_name = "M")]
        accuracy: Option<f64>,
    },
    /// Pause sharing your position, for a while or until you resume
    ///
    /// While paused, every position you send (this CLI, the web client, the OwnTracks
    /// app) is accepted and dropped: nothing of where you are is stored or reaches your
    /// partner. They see that you paused (and until when); the alarm still passes.
    ///
    /// Examples:
    ///   haurach pause 2h     # for two hours (also 90m, 1h30m, 1d)
    ///   haurach pause        # until haurach resume
    #[command(verbatim_doc_comment)]
    Pause {
        /// How long: 2h, 90m, 1h30m, 45s, 1d (default: until you resume).
        duration: Option<String>,
    },
    /// Share your position again after a pause (your partner is told)
    Resume,
    /// Follow the live link: the pull, tiers, contact, messages, thoughts
    ///
    /// Each message is acknowledged once printed, so the next watch resumes after it. If
    /// the link drops, watch reconnects by itself (saying so on stderr) and resumes after
    /// the last message it printed.
    ///
    /// Examples:
    ///   haurach watch
    ///   haurach watch --json                 # raw frames, one per line
    ///   haurach watch --count 1 --for 60     # wait for one message, at most a minute
    #[command(verbatim_doc_comment)]
    Watch {
        /// Print the raw frames (JSON, one per line).
        #[arg(long)]
        json: bool,
        /// Stop after this many messages (voice, feelings, alarms).
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Stop after this many seconds (an error if --count was not reached).
        #[arg(long = "for", value_name = "SECONDS")]
        for_s: Option<f64>,
        /// Resume after this message number instead of after the last one acknowledged.
        #[arg(long, value_name = "SEQ")]
        after: Option<i64>,
    },
    /// Think aloud: each line typed on stdin becomes the thought your partner sees
    ///
    /// Needs the thoughts tier; thoughts are live, never stored.
    ///
    /// Examples:
    ///   haurach think
    ///   echo "I wonder if she's attractive..." | haurach think
    #[command(verbatim_doc_comment)]
    Think,
    /// Walk a simulated position: a straight line, a GPX track, or a scenario's side
    ///
    /// Each step is sent to the server as a position.
    ///
    /// Tiers opening and closing are printed as they happen; a progress bar shows on a
    /// terminal.
    ///
    /// Examples:
    ///   haurach walk --from 23.120,53.660 --to 23.133,53.770 --speed 4 --speedup 60
    ///   haurach walk --gpx track.gpx --speedup 10
    ///   haurach walk --scenario scenarios/desert.toml --who spike --speedup 600
    #[command(verbatim_doc_comment)]
    Walk(WalkArgs),
    /// The city's gate: your application, and the tower's queue, answers and register
    #[command(subcommand)]
    Gate(city::GateCommand),
    /// Fire-mail: letters and parcels to anyone by name
    #[command(subcommand)]
    Letter(city::LetterCommand),
    /// Summoning: call someone who allowed it to come to you
    #[command(subcommand)]
    Summons(city::SummonsCommand),
    /// Passwords for your devices (the OwnTracks app), so it never holds your own
    #[command(subcommand)]
    Device(devices::DeviceCommand),
    /// Replay a scenario fast-forwarded and print its timeline
    ///
    /// Without --server (the flag; HAURACH_SERVER does not count) a server is started in
    /// this process with a temporary database. With it, the scenario's partners are
    /// registered there (or logged in with the scenario's passwords).
    ///
    /// Examples:
    ///   haurach replay scenarios/desert.toml
    ///   # day 1 15:54   20.0 km  feelings opened (within 20 km)
    ///   haurach replay scenarios/desert.toml --json
    ///   haurach replay scenarios/desert.toml --svg desert.svg   # the journey, drawn
    ///   haurach replay scenarios/desert.toml --server http://127.0.0.1:7420
    #[command(verbatim_doc_comment)]
    Replay(ReplayArgs),
    /// Your places (home, work...): add, list, rm
    ///
    /// Your partner hears when you arrive at or leave one, by name, at any range.
    ///
    /// Examples:
    ///   haurach place add home 45.7681 14.3605 --radius 80
    ///   haurach place list
    ///   haurach place rm home
    #[command(verbatim_doc_comment)]
    Place(places::PlaceArgs),
    /// Where to meet your partner (the Needle): show it, pin it, unpin it
    ///
    /// Unless pinned, Haurach suggests the point where you both arrive soonest at your
    /// recent speeds (halfway when a speed is unknown or both of you are at rest; at
    /// rest counts as a 1 m/s walk for the times). Beyond sight range the suggested
    /// point is shown only as a rounded distance and direction: its coordinates would
    /// give your partner's position away. A pinned point is shown to both.
    ///
    /// Examples:
    ///   haurach meet                         # meet halfway: you are 8.5 km east, about 2 h 21 min; ...
    ///   haurach meet --pin home              # one of your places
    ///   haurach meet --at 45.77,14.36 --name "the Needle"
    ///   haurach meet --unpin
    #[command(verbatim_doc_comment)]
    Meet(places::MeetArgs),
    /// Export your own journey as GPX (only yours: a partner's track is never exported)
    ///
    /// The server keeps each fix for journey_days days (see haurach serve --print-config);
    /// of a live link's stream (the web client) it keeps one fix every 5 seconds.
    ///
    /// Examples:
    ///   haurach journey --gpx today.gpx --from 2026-11-23T00:00:00Z
    ///   haurach journey --gpx - | head
    #[command(verbatim_doc_comment)]
    Journey(places::JourneyArgs),
    /// Export everything the city keeps of you, as one zip
    ///
    /// Your account and your page in the gatekeeper's book, your journey (GPX), places,
    /// journal with its photos, what you sent in your bond with your pictures, and your
    /// letters with their parcels (README.txt inside says what each file is). What your
    /// partner sent is theirs, and not in it.
    ///
    /// Examples:
    ///   haurach export                       # haurach-NAME.zip here
    ///   haurach export --out ~/backup/me.zip
    #[command(verbatim_doc_comment)]
    Export {
        /// The zip to write [default: haurach-NAME.zip].
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    Profile::from_key(&s.to_lowercase()).ok_or_else(|| {
        format!(
            "no such profile: choose one of {}",
            Profile::ALL.map(Profile::key).join(", ")
        )
    })
}

fn parse_feeling(s: &str) -> Result<Feeling, String> {
    Feeling::from_key(&s.to_lowercase()).ok_or_else(|| {
        format!(
            "no such feeling: choose one of {}",
            Feeling::ALL.map(Feeling::key).join(", ")
        )
    })
}

impl ClientCommand {
    /// Runs the command.
    pub async fn run(self, ctx: Context) -> anyhow::Result<()> {
        match self {
            ClientCommand::Register {
                name,
                password,
                book,
                invite,
            } => {
                let password = password_for(&name, password.password, true)?;
                let registration = haurach_proto::Registration {
                    name: name.clone(),
                    password: password.clone(),
                    book: book.book(),
                    invite,
                };
                let api = ctx.anonymous()?;
                // 201 is an account; 202 is a page of the book waiting for the tower.
                let answer: serde_json::Value = api.post("/api/v1/accounts", &registration).await?;
                let creds = Credentials { name, password };
                let session: Session = api.post("/api/v1/sessions", &creds).await?;
                ctx.remember(&session)?;
                if answer.get("standing").and_then(|s| s.as_str()) == Some("applicant") {
                    outln!(
                        "{} is written in the gatekeeper's book on {}: your application is with the tower",
                        session.account.name,
                        ctx.server
                    );
                    outln!("until it answers you can only read your book: haurach gate status");
                } else {
                    let account: Account = serde_json::from_value(answer)?;
                    // The city's first account is the tower's: say so, since it is the
                    // one that lets everyone after it in.
                    let api = Api::new(&ctx.server, Some(session.token.clone()))?;
                    let me: haurach_proto::Arrival = api.get("/api/v1/gate/me").await?;
                    let tower = if me.standing == haurach_proto::Standing::Tower {
                        ", the tower (the city's first account)"
                    } else {
                        ""
                    };
                    outln!(
                        "registered {} on {}; you are logged in as {}{tower}",
                        account.name,
                        ctx.server,
                        account.name
                    );
                }
            }
            ClientCommand::Gate(command) => city::gate(ctx, command).await?,
            ClientCommand::Letter(command) => city::letter(ctx, command).await?,
            ClientCommand::Summons(command) => city::summons(ctx, command).await?,
            ClientCommand::Device(command) => devices::device(ctx, command).await?,
            ClientCommand::Login { name, password } => {
                let password = password_for(&name, password.password, false)?;
                let creds = Credentials { name, password };
                let session: Session = ctx.anonymous()?.post("/api/v1/sessions", &creds).await?;
                ctx.remember(&session)?;
                outln!("logged in as {} on {}", session.account.name, ctx.server);
            }
            ClientCommand::Logout => {
                let (saved, api) = ctx.session(None)?;
                match api
                    .empty(Method::DELETE, "/api/v1/sessions/current", None)
                    .await
                {
                    Ok(()) => {}
                    // Revoked already: forgetting it here is all that is left to do.
                    Err(e) if e.code() == Some("unauthorized") => {}
                    Err(e) => return Err(e.into()),
                }
                let mut sessions = Sessions::load(&ctx.home)?;
                sessions.remove(&ctx.server, &saved.name);
                sessions.save(&ctx.home)?;
                outln!("logged out {} from {}", saved.name, ctx.server);
            }
            ClientCommand::Place(args) => places::place(ctx, args).await?,
            ClientCommand::Meet(args) => places::meet(ctx, args).await?,
            ClientCommand::Journey(args) => places::journey(ctx, args).await?,
            ClientCommand::Export { out } => {
                let (saved, api) = ctx.session(None)?;
                city::export(&api, "/api/v1/me/export", &saved.name, out).await?;
            }
            ClientCommand::Invite { private: true, qr } => private::invite(&ctx, qr).await?,
            ClientCommand::Invite { private: false, .. } => {
                let (_, api) = ctx.session(None)?;
                let invite: Invite = api.json(Method::POST, "/api/v1/bond/invites", None).await?;
                outln!(
                    "invite code: {} (works until {})",
                    invite.code,
                    show::date(invite.expires_at)
                );
                outln!("your partner accepts it with:");
                outln!("  {} accept {}", ctx.command_prefix(), invite.code);
            }
            ClientCommand::Accept { code, profile } if private::is_private_code(&code) => {
                private::accept(&ctx, &code, profile).await?
            }
            ClientCommand::Accept { code, profile } => {
                let (_, api) = ctx.session(None)?;
                let accept = AcceptInvite { code, profile };
                let view: BondView = api.post("/api/v1/bond", &accept).await?;
                outln!(
                    "bonded with {} ({} profile)",
                    view.partner,
                    view.profile.key()
                );
                outln!("{}", show::bond(&view));
            }
            ClientCommand::Unbond => {
                let (saved, api) = ctx.session(None)?;
                let view: BondView = api.get("/api/v1/bond").await?;
                api.empty(Method::DELETE, "/api/v1/bond", None).await?;
                private::forget(&ctx, &saved.name)?;
                outln!("the bond with {} is ended", view.partner);
            }
            ClientCommand::Where { json } => {
                let (saved, api) = ctx.session(None)?;
                let standing = private::standing(&ctx, &saved.name, &api).await?;
                let mut view: BondView = api.get("/api/v1/bond").await?;
                let mut rough = None;
                let mut stretch = None;
                let mut meeting = None;
                if matches!(standing, private::Standing::Confirmed(_))
                    && let Some(sealing) = sealed::Sealing::of(&ctx, &saved.name, &api).await?
                {
                    for alarm in &mut view.alarms {
                        *alarm = sealing.open_message(&saved.name, alarm);
                    }
                    // The server knows no position: the pull is worked out here, and the
                    // way to a pinned meeting point too.
                    view = sealing.with_pull(view)?;
                    rough = sealing.rough_note(&view)?;
                    stretch = sealing.stretch_note(&view.partner);
                    let book = sealing.catch_up(&api, &saved.name, view.last_seq).await?;
                    meeting = sealing.meeting(&book, &view)?;
                }
                if json {
                    outln!("{}", serde_json::to_string_pretty(&view)?);
                } else if matches!(standing, private::Standing::Plain) {
                    outln!("{}", show::bond(&view));
                } else {
                    outln!("{}", private::bond_text(&view));
                    if let Some(note) = rough {
                        outln!("{note}");
                    }
                    if let Some(stretch) = stretch {
                        outln!("{stretch}");
                    }
                    if let Some(meeting) = meeting {
                        outln!("{}", places::meeting_sentence(&meeting));
                    }
                }
            }
            ClientCommand::Locate { for_s } => {
                if !(for_s.is_finite() && for_s >= 0.0) {
                    anyhow::bail!("--for must be a number of seconds, not {for_s}");
                }
                let (saved, api) = ctx.session(None)?;
                locate::run(&api, &saved.token, Duration::from_secs_f64(for_s)).await?;
            }
            ClientCommand::Say { text } => {
                let (saved, api) = ctx.session(None)?;
                let words = Some(text.join(" "));
                let m = send(&ctx, &saved.name, &api, MessageKind::Voice, words, None).await?;
                outln!("{}", show::message(&saved.name, &m));
            }
            ClientCommand::SendImage { file } => {
                let (saved, api) = ctx.session(None)?;
                // On a private bond the picture is made into its renditions and sealed here.
                let sealing = sealed::Sealing::of(&ctx, &saved.name, &api).await?;
                let image = pictures::send(&api, &file, sealing.as_ref()).await?;
                outln!("sent: {}", pictures::line(&saved.name, &image));
            }
            ClientCommand::Picture { id: None, .. } => {
                let (saved, api) = ctx.session(None)?;
                let list = pictures::list(&api).await?;
                if list.images.is_empty() {
                    outln!("no pictures yet: send one with haurach send-image FILE");
                }
                for image in &list.images {
                    outln!("{}", pictures::line(&saved.name, image));
                }
            }
            ClientCommand::Picture {
                id: Some(id),
                out,
                side,
            } => {
                let (saved, api) = ctx.session(None)?;
                // A picture of a private bond is opened here, with its key.
                let sealing = sealed::Sealing::of(&ctx, &saved.name, &api)
                    .await
                    .ok()
                    .flatten();
                let (path, side) =
                    pictures::fetch(&api, &saved.name, sealing.as_ref(), &id, side, out).await?;
                outln!("saved {} ({side} px on its longest side)", path.display());
            }
            ClientCommand::Remember { text, photo } => {
                let (saved, api) = ctx.session(None)?;
                let text = (!text.is_empty()).then(|| text.join(" "));
                // On a private bond the words, or the photo with its caption, are sealed here.
                let sealing = sealed::Sealing::of(&ctx, &saved.name, &api).await?;
                let m = pictures::remember(&api, text, photo.as_deref(), sealing.as_ref()).await?;
                let shared = if m.shared_at.is_some() {
                    "; you are together, so it is shared already"
                } else {
                    ""
                };
                outln!("kept in your journal{shared}");
            }
            ClientCommand::Memories { partner, photos } => {
                let (saved, api) = ctx.session(None)?;
                let (path, whose) = if partner {
                    ("/api/v1/bond/memories", "your partner's")
                } else {
                    ("/api/v1/me/memories", "your")
                };
                let mut list: haurach_proto::MemoryList = api.get(path).await?;
                // Entries of a private bond are opened here, with its key.
                let sealing = if list
                    .memories
                    .iter()
                    .any(|m| m.sealed.is_some() || m.photo_sealed)
                {
                    sealed::Sealing::of(&ctx, &saved.name, &api)
                        .await
                        .ok()
                        .flatten()
                } else {
                    None
                };
                match &sealing {
                    Some(sealing) => {
                        for entry in &mut list.memories {
                            sealing.open_entry(!partner, entry);
                        }
                    }
                    None => sealed::keyless_journal(&mut list),
                }
                if let Some(dir) = &photos {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot make {}", dir.display()))?;
                }
                let written = pictures::journal_photos(
                    &api,
                    &mut list,
                    sealing.as_ref(),
                    !partner,
                    photos.as_deref(),
                )
                .await?;
                for line in pictures::journal(&list, whose) {
                    outln!("{line}");
                }
                for file in written {
                    outln!("saved {}", file.display());
                }
            }
            ClientCommand::Feel { feeling } => {
                let (saved, api) = ctx.session(None)?;
                let m = send(
                    &ctx,
                    &saved.name,
                    &api,
                    MessageKind::Feeling,
                    None,
                    Some(feeling),
                )
                .await?;
                outln!("{}", show::message(&saved.name, &m));
            }
            ClientCommand::Alarm { text } => {
                let (saved, api) = ctx.session(None)?;
                let body = (!text.is_empty()).then(|| text.join(" "));
                let m = send(&ctx, &saved.name, &api, MessageKind::Alarm, body, None).await?;
                outln!(
                    "alarm #{} raised: your partner feels it at any range until they acknowledge it (haurach ack {})",
                    m.seq,
                    m.seq
                );
            }
            ClientCommand::Ack { seq } => {
                let (_, api) = ctx.session(None)?;
                let m: Message = api
                    .json(
                        Method::POST,
                        &format!("/api/v1/bond/alarms/{seq}/ack"),
                        None,
                    )
                    .await?;
                outln!("acknowledged alarm #{} from {}", m.seq, m.from);
            }
            ClientCommand::Move { lat, lon, accuracy } => {
                let (saved, api) = ctx.session(None)?;
                match private::standing(&ctx, &saved.name, &api).await? {
                    private::Standing::Plain => {}
                    private::Standing::Waiting => anyhow::bail!(
                        "your partner's device has not confirmed the bond's keys yet: nothing \
                         was sent (it confirms the next time they use haurach)"
                    ),
                    private::Standing::Confirmed(_) => {
                        let sealing = sealed::Sealing::of(&ctx, &saved.name, &api)
                            .await?
                            .context("the bond is private, yet this device cannot seal")?;
                        let fix = haurach_bond::Fix {
                            lat,
                            lon,
                            accuracy_m: accuracy.unwrap_or(0.0),
                            at_ms: now_ms(),
                        };
                        let sealed::SentFix {
                            view,
                            stretch,
                            news,
                        } = sealing.send_fix(&api, &fix).await?;
                        if paused(&api).await? {
                            // Dropped by the server; and a pause starts the stretch afresh.
                            sealing.restart_stretch()?;
                            outln!(
                                "sharing is paused: this position stays with you (haurach resume to share again)"
                            );
                            return Ok(());
                        }
                        outln!(
                            "you are at {lat:.5}, {lon:.5} (only tokens of it, and a position rounded and \
                             sealed for your partner's device, left this device)"
                        );
                        if let Some(s) = stretch {
                            // Judged here; the partner's device is told it sealed.
                            outln!("{}", show::stretch("you", s.jump_m, s.speed_kmh()));
                        }
                        outln!("{}", private::bond_text(&view));
                        if let Some(note) = sealing.rough_note(&view)? {
                            outln!("{note}");
                        }
                        if let Some(note) = sealing.stretch_note(&view.partner) {
                            outln!("{note}");
                        }
                        for line in news {
                            outln!("{line}");
                        }
                        return Ok(());
                    }
                }
                let update = PositionUpdate {
                    lat,
                    lon,
                    accuracy_m: accuracy,
                    at: None,
                    // Typed, not measured: the partner is told so.
                    by_hand: true,
                    battery: None,
                };
                crate::walk::put_position(&api, &update).await?;
                if paused(&api).await? {
                    // Accepted and dropped by the server: say so rather than a pull.
                    outln!(
                        "sharing is paused: this position stays with you (haurach resume to share again)"
                    );
                    return Ok(());
                }
                outln!("you are at {lat:.5}, {lon:.5}");
                if let Some(view) = crate::walk::bond_of(&api).await? {
                    outln!("{}", show::bond_sentence(&view));
                }
            }
            ClientCommand::Pause { duration } => {
                let (saved, api) = ctx.session(None)?;
                outln!("{}", pause::pause(&api, duration.as_deref()).await?);
                // In a private bond this device judges its own stretch: a pause starts it
                // afresh, as the plain bond's server does.
                private::restart_stretch(&ctx.home, &ctx.server, &saved.name)?;
            }
            ClientCommand::Resume => {
                let (_, api) = ctx.session(None)?;
                outln!("{}", pause::resume(&api).await?);
            }
            ClientCommand::Watch {
                json,
                count,
                for_s,
                after,
            } => {
                let duration = match for_s {
                    Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
                    Some(s) => anyhow::bail!("--for must be a number of seconds, not {s}"),
                    None => None,
                };
                let (saved, api) = ctx.session(None)?;
                let opts = link::WatchOptions {
                    json,
                    count,
                    duration,
                    after,
                };
                let sealing = sealed::Sealing::of(&ctx, &saved.name, &api).await?;
                link::watch(api.base(), &saved.token, opts, sealing).await?;
            }
            ClientCommand::Think => {
                let (saved, api) = ctx.session(None)?;
                let sealing = sealed::Sealing::of(&ctx, &saved.name, &api).await?;
                link::think(api.base(), &saved.token, sealing).await?;
            }
            ClientCommand::Walk(args) => {
                let who = args.scenario_partner()?;
                let (saved, api) = ctx.session(who.as_deref())?;
                // On a private bond each step is a token report and a sealed position.
                let sealing = sealed::Sealing::of(&ctx, &saved.name, &api).await?;
                crate::walk::run(&api, &args, sealing.as_ref()).await?;
            }
            ClientCommand::Replay(args) => {
                let server = ctx.server_flag.then_some(ctx.server.as_str());
                crate::replay::run(server, &args).await?;
            }
        }
        Ok(())
    }
}

/// Whether the caller's sharing is paused (the server accepted and dropped what they sent).
async fn paused(api: &Api) -> anyhow::Result<bool> {
    let pause: haurach_proto::PauseView = api.get("/api/v1/me/pause").await?;
    Ok(pause.paused)
}

/// Now, Unix milliseconds.
fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Stores a message with a fresh UUIDv7 id (the same id, and in a private bond the same
/// sealed content, on every retry). In a private bond the words or the feeling are sealed
/// here and the answer is opened here.
async fn send(
    ctx: &Context,
    name: &str,
    api: &Api,
    kind: MessageKind,
    body: Option<String>,
    feeling: Option<Feeling>,
) -> anyhow::Result<Message> {
    let id = uuid::Uuid::now_v7().to_string();
    let Some(sealing) = sealed::Sealing::of(ctx, name, api).await? else {
        let message = SendMessage {
            kind,
            id,
            body,
            feeling,
            sealed: None,
        };
        return Ok(api.send_message(&message).await?);
    };
    let content = body.or_else(|| feeling.map(|f| f.key().to_owned()));
    let message = SendMessage {
        kind,
        id,
        body: None,
        feeling: None,
        sealed: content
            .map(|c| sealing.seal(kind.key(), c.as_bytes()))
            .transpose()?,
    };
    let stored = api.send_message(&message).await?;
    Ok(sealing.open_message(name, &stored))
}
