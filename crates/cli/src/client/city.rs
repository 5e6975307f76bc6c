//! The city's client commands: `gate` (your page of the book; the tower's queue,
//! answers, register and invites), `letter` (fire-mail and parcels) and `summons`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use haurach_proto::{
    Arrival, ArrivalList, Decision, DecisionBody, GateBook, GateInvite, Letter, LetterList,
    LetterState, ParcelRef, ParcelUpload, SendLetter, SessionList, SessionsEnded, SummonBody,
    SummonPermissions, Summons, SummonsList,
};
use reqwest::Method;

use super::api::Api;
use super::context::Context;
use super::show;

/// What a newcomer writes in the gatekeeper's book (`register` at an application gate).
#[derive(Debug, Args)]
pub struct BookArgs {
    /// What you are called (the gate's book; not your account name).
    #[arg(long = "called", value_name = "NAME")]
    pub called: Option<String>,
    /// Your family name.
    #[arg(long, value_name = "NAME")]
    pub family_name: Option<String>,
    /// Where you come from, and who kept you.
    #[arg(long, value_name = "PLACE")]
    pub from: Option<String>,
    /// Your age, years.
    #[arg(long)]
    pub age: Option<u32>,
    /// Your calling.
    #[arg(long)]
    pub calling: Option<String>,
    /// A note for the tower.
    #[arg(long)]
    pub note: Option<String>,
}

impl BookArgs {
    /// The book, or `None` when nothing was written.
    pub fn book(self) -> Option<GateBook> {
        let book = GateBook {
            name: self.called,
            family_name: self.family_name,
            from: self.from,
            age: self.age,
            calling: self.calling,
            note: self.note,
        };
        (book != GateBook::default()).then_some(book)
    }
}

/// `haurach gate ...`.
#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Your page of the gatekeeper's book, with the tower's answer once given
    ///
    /// Example:
    ///   haurach gate status
    #[command(verbatim_doc_comment)]
    Status,
    /// The tower: applications waiting for an answer
    ///
    /// Example:
    ///   haurach gate queue
    #[command(verbatim_doc_comment)]
    Queue,
    /// The tower: let an applicant in, with a written answer
    ///
    /// Example:
    ///   haurach gate approve twilight --answer "Welcome, letter bearer."
    #[command(verbatim_doc_comment)]
    Approve {
        /// The applicant's account name.
        name: String,
        /// What the tower writes back in their book.
        #[arg(long)]
        answer: String,
    },
    /// The tower: turn an applicant away, with a written answer
    ///
    /// Example:
    ///   haurach gate decline trixie --answer "Not this year."
    #[command(verbatim_doc_comment)]
    Decline {
        /// The applicant's account name.
        name: String,
        /// What the tower writes back in their book.
        #[arg(long)]
        answer: String,
    },
    /// The tower: the register of everyone who arrived (a table, or CSV with --csv)
    ///
    /// Examples:
    ///   haurach gate register
    ///   haurach gate register --csv > register.csv
    #[command(verbatim_doc_comment)]
    Register {
        /// Print the register as CSV, for a spreadsheet.
        #[arg(long)]
        csv: bool,
    },
    /// Make a code that lets one person through an invite-only gate
    ///
    /// Example:
    ///   haurach gate invite
    ///   # the newcomer: haurach register rarity --invite K7QF-3MZP
    #[command(verbatim_doc_comment)]
    Invite,
    /// The tower: make another tower (admin) account, on SQLite or PostgreSQL alike
    ///
    /// The password comes as for register.
    ///
    /// Example:
    ///   haurach gate tower luna
    #[command(verbatim_doc_comment)]
    Tower {
        /// The new tower account's name.
        name: String,
        #[command(flatten)]
        password: super::password::PasswordArg,
    },
    /// The tower: set someone's password (they forgot theirs); their sessions end
    ///
    /// Every device they were logged in on is logged out, and their live links close.
    /// The new password comes as for register.
    ///
    /// Example:
    ///   haurach gate password spike
    #[command(verbatim_doc_comment)]
    Password {
        /// Their account name.
        name: String,
        #[command(flatten)]
        password: super::password::PasswordArg,
    },
    /// The tower: someone's live sessions, or with --end, end them (all, or one)
    ///
    /// Ending a session logs that device out and closes its live links at once.
    ///
    /// Examples:
    ///   haurach gate sessions spike
    ///   haurach gate sessions spike --end                    # every one
    ///   haurach gate sessions spike --end 3f9a01c2d4e5f607   # one, by the id listed
    #[command(verbatim_doc_comment)]
    Sessions {
        /// Their account name.
        name: String,
        /// End every session, or only the one with this id (as listed).
        #[arg(long, value_name = "ID", num_args = 0..=1)]
        end: Option<Option<String>>,
    },
    /// The tower: export everything the city keeps of someone, as one zip
    ///
    /// What `haurach export` gives a person of themselves (for someone who asked for
    /// their data, or before removing them).
    ///
    /// Example:
    ///   haurach gate export trixie --out trixie.zip
    #[command(verbatim_doc_comment)]
    Export {
        /// Their account name.
        name: String,
        /// The zip to write [default: haurach-NAME.zip].
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// The tower: remove someone with everything they own, for good
    ///
    /// Their account, sessions (their live links close), position, journey, places,
    /// journal, pictures, their bond with all its messages (their partner is told it
    /// ended; the partner's own journal, places and journey stay), the letters they
    /// sent, received or hold, their parcels, summonses and invites, and their page in
    /// the gatekeeper's book. It cannot be undone: it asks you to type the name first,
    /// unless --yes.
    ///
    /// Examples:
    ///   haurach gate remove trixie
    ///   haurach gate remove trixie --yes
    #[command(verbatim_doc_comment)]
    Remove {
        /// Their account name.
        name: String,
        /// Do not ask: remove them at once.
        #[arg(long)]
        yes: bool,
    },
}

/// Asks to type `name` again before removing them; false unless they did.
fn confirmed_removal(name: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead as _, Write as _};
    eprint!("This removes {name} and everything they own, for good. Type their name to confirm: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == name)
}

/// `haurach letter ...`.
#[derive(Debug, Subcommand)]
pub enum LetterCommand {
    /// Write a letter to anyone by name, with files as a parcel, and breathe on it
    ///
    /// The letter leaves your hands and appears in theirs (at once if they are online).
    /// Each --parcel file is uploaded first; the letter is acknowledged only once stored.
    ///
    /// Examples:
    ///   haurach letter send princess "The desert crossing is done."
    ///   haurach letter send amethyst "A box for you" --parcel box.png --parcel map.gpx
    #[command(verbatim_doc_comment)]
    Send {
        /// The recipient's account name.
        to: String,
        /// The words (quote them, or give several: they are joined by spaces).
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
        /// A file to send with it (repeat for more).
        #[arg(long = "parcel", value_name = "FILE")]
        parcels: Vec<PathBuf>,
    },
    /// The letters in your hands: sent to you, or returned to you (this delivers them)
    ///
    /// Example:
    ///   haurach letter inbox
    #[command(verbatim_doc_comment)]
    Inbox {
        /// Print the letters as the API gives them (JSON).
        #[arg(long)]
        json: bool,
    },
    /// The letters you wrote, with their receipts
    ///
    /// Example:
    ///   haurach letter sent
    #[command(verbatim_doc_comment)]
    Sent {
        /// Print the letters as the API gives them (JSON).
        #[arg(long)]
        json: bool,
    },
    /// Open a letter in your hands (the sender gets a read receipt); --save keeps its
    /// parcels
    ///
    /// A letter is named by its id or the last characters of it, as `inbox` shows.
    ///
    /// Examples:
    ///   haurach letter read 3f9a01c2
    ///   haurach letter read 3f9a01c2 --save ~/Downloads
    #[command(verbatim_doc_comment)]
    Read {
        /// The letter (its id, or the end of it).
        id: String,
        /// Save the parcels into this directory.
        #[arg(long, value_name = "DIR")]
        save: Option<PathBuf>,
    },
    /// Send an unopened letter (and its parcel) back to where it came from
    ///
    /// Example:
    ///   haurach letter return 3f9a01c2
    #[command(verbatim_doc_comment, name = "return")]
    Return {
        /// The letter (its id, or the end of it).
        id: String,
    },
    /// Answer a letter: the reply goes back to its writer, in the same thread
    ///
    /// Example:
    ///   haurach letter reply 3f9a01c2 "Got the box, thank you!"
    #[command(verbatim_doc_comment)]
    Reply {
        /// The letter answered (its id, or the end of it).
        id: String,
        /// The words (quote them, or give several: they are joined by spaces).
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
        /// A file to send with it (repeat for more).
        #[arg(long = "parcel", value_name = "FILE")]
        parcels: Vec<PathBuf>,
    },
    /// A letter's whole thread, oldest first
    ///
    /// Example:
    ///   haurach letter thread 3f9a01c2
    #[command(verbatim_doc_comment)]
    Thread {
        /// Any letter of the thread (its id, or the end of it).
        id: String,
    },
}

/// `haurach summons ...`.
#[derive(Debug, Subcommand)]
pub enum SummonsCommand {
    /// Allow someone to summon you
    ///
    /// Example:
    ///   haurach summons allow twilight
    #[command(verbatim_doc_comment)]
    Allow {
        /// Their account name.
        name: String,
    },
    /// No longer allow someone to summon you
    ///
    /// Example:
    ///   haurach summons disallow twilight
    #[command(verbatim_doc_comment)]
    Disallow {
        /// Their account name.
        name: String,
    },
    /// Summon someone who allowed it, from where you are
    ///
    /// They feel it like an alarm, with the pull toward you.
    ///
    /// Example:
    ///   haurach summons call spike 46.05 7.0
    #[command(verbatim_doc_comment, allow_negative_numbers = true)]
    Call {
        /// Whom to summon.
        name: String,
        /// Your latitude.
        lat: f64,
        /// Your longitude.
        lon: f64,
    },
    /// Summonses still calling or on the way
    ///
    /// Example:
    ///   haurach summons list
    #[command(verbatim_doc_comment)]
    List,
    /// Go: accept a summons (you both see each other's exact position until you arrive)
    ///
    /// Example:
    ///   haurach summons accept 77c1d2e0
    #[command(verbatim_doc_comment)]
    Accept {
        /// The summons (its id, or the end of it).
        id: String,
    },
    /// Refuse a summons
    ///
    /// Example:
    ///   haurach summons decline 77c1d2e0
    #[command(verbatim_doc_comment)]
    Decline {
        /// The summons (its id, or the end of it).
        id: String,
    },
    /// End a summons (either side)
    ///
    /// Example:
    ///   haurach summons end 77c1d2e0
    #[command(verbatim_doc_comment)]
    End {
        /// The summons (its id, or the end of it).
        id: String,
    },
}

/// The short name of an id: its last eight characters (the random end of a UUIDv7; its
/// start is a timestamp, shared by everything made in the same minute).
fn short(id: &uuid::Uuid) -> String {
    let s = id.to_string();
    s[s.len() - 8..].to_owned()
}

fn arrival_line(a: &Arrival) -> String {
    let b = &a.book;
    let mut who = a.account.name.clone();
    let called: Vec<&str> = [b.name.as_deref(), b.family_name.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !called.is_empty() {
        who.push_str(&format!(" ({})", called.join(" ")));
    }
    let mut line = format!(
        "{who}: arrived {} by {}, {}",
        show::date(a.arrived_at),
        a.way,
        a.standing.key()
    );
    for (label, v) in [
        ("from", b.from.clone()),
        ("age", b.age.map(|n| n.to_string())),
        ("calling", b.calling.clone()),
        ("note", b.note.clone()),
    ] {
        if let Some(v) = v {
            line.push_str(&format!("\n  {label}: {v}"));
        }
    }
    if let (Some(d), Some(answer)) = (a.decision, &a.answer) {
        line.push_str(&format!(
            "\n  the tower {} ({}): {answer}",
            d.key(),
            a.decided_by.as_deref().unwrap_or("?")
        ));
    }
    line
}

/// Runs `haurach gate ...`.
pub async fn gate(ctx: Context, command: GateCommand) -> anyhow::Result<()> {
    let (_, api) = ctx.session(None)?;
    match command {
        GateCommand::Status => {
            let a: Arrival = api.get("/api/v1/gate/me").await?;
            outln!("{}", arrival_line(&a));
            if a.decision.is_none() && a.way == "application" {
                outln!("your application is with the tower: no answer yet");
            }
        }
        GateCommand::Queue => {
            let list: ArrivalList = api.get("/api/v1/gate/queue").await?;
            if list.arrivals.is_empty() {
                outln!("nobody is waiting at the gate");
            }
            for a in &list.arrivals {
                outln!("{}", arrival_line(a));
            }
        }
        GateCommand::Approve { name, answer } => {
            decide(&api, &name, Decision::Approved, answer).await?
        }
        GateCommand::Decline { name, answer } => {
            decide(&api, &name, Decision::Declined, answer).await?
        }
        GateCommand::Register { csv } => {
            if csv {
                let bytes = api.download("/api/v1/gate/register.csv").await?;
                use std::io::Write as _;
                std::io::stdout().write_all(&bytes)?;
            } else {
                let list: ArrivalList = api.get("/api/v1/gate/register").await?;
                for a in &list.arrivals {
                    outln!("{}", arrival_line(a));
                }
            }
        }
        GateCommand::Invite => {
            let invite: GateInvite = api.json(Method::POST, "/api/v1/gate/invites", None).await?;
            outln!(
                "gate code: {} (works once, until {})",
                invite.code,
                show::date(invite.expires_at)
            );
            outln!("the newcomer comes in with:");
            outln!(
                "  {} register NAME --invite {}",
                ctx.command_prefix(),
                invite.code
            );
        }
        GateCommand::Tower { name, password } => {
            let password = super::password::password_for(&name, password.password, true)?;
            let body = haurach_proto::Credentials {
                name: name.clone(),
                password,
            };
            let account: haurach_proto::Account = api.post("/api/v1/tower/towers", &body).await?;
            outln!(
                "{} is in the tower (log in with {} login {})",
                account.name,
                ctx.command_prefix(),
                account.name
            );
        }
        GateCommand::Password { name, password } => {
            let password = super::password::password_for(&name, password.password, true)?;
            let ended: SessionsEnded = api
                .json(
                    Method::PUT,
                    &format!("/api/v1/tower/people/{name}/password"),
                    Some(&haurach_proto::NewPassword { password }),
                )
                .await?;
            outln!(
                "{name}'s password is set; {} of their sessions ended",
                ended.ended
            );
        }
        GateCommand::Sessions { name, end: None } => {
            let list: SessionList = api
                .get(&format!("/api/v1/tower/people/{name}/sessions"))
                .await?;
            if list.sessions.is_empty() {
                outln!("{name} is logged in nowhere");
            }
            for s in &list.sessions {
                outln!("{}  since {}", s.id, show::date(s.created_at));
            }
        }
        GateCommand::Sessions {
            name,
            end: Some(Some(id)),
        } => {
            api.json::<SessionsEnded>(
                Method::DELETE,
                &format!("/api/v1/tower/people/{name}/sessions/{id}"),
                None,
            )
            .await?;
            outln!("{name}'s session {id} ended; its live links are closed");
        }
        GateCommand::Export { name, out } => {
            export(
                &api,
                &format!("/api/v1/tower/people/{name}/export"),
                &name,
                out,
            )
            .await?;
        }
        GateCommand::Sessions {
            name,
            end: Some(None),
        } => {
            let ended: SessionsEnded = api
                .json(
                    Method::DELETE,
                    &format!("/api/v1/tower/people/{name}/sessions"),
                    None,
                )
                .await?;
            outln!(
                "{} of {name}'s sessions ended; their live links are closed",
                ended.ended
            );
        }
        GateCommand::Remove { name, yes } => {
            if !yes && !confirmed_removal(&name)? {
                anyhow::bail!("{name} is not removed: the name typed did not match (or add --yes)");
            }
            api.empty(
                Method::DELETE,
                &format!("/api/v1/tower/people/{name}"),
                None,
            )
            .await?;
            outln!("{name} is removed, with everything they owned");
        }
    }
    Ok(())
}

/// Downloads the export at `path` (of `name`) into `out`, or `haurach-NAME.zip`.
pub async fn export(
    api: &Api,
    path: &str,
    name: &str,
    out: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let zip = api.download(path).await?;
    let out = out.unwrap_or_else(|| format!("haurach-{name}.zip").into());
    std::fs::write(&out, &zip).with_context(|| format!("cannot write {}", out.display()))?;
    outln!(
        "wrote {name}'s data to {} ({} bytes)",
        out.display(),
        zip.len()
    );
    Ok(())
}

async fn decide(api: &Api, name: &str, decision: Decision, answer: String) -> anyhow::Result<()> {
    let a: Arrival = api
        .post(
            &format!("/api/v1/gate/applications/{name}/decision"),
            &DecisionBody { decision, answer },
        )
        .await?;
    outln!("{} is {}", a.account.name, a.standing.key());
    Ok(())
}

fn letter_line(l: &Letter, me: &str) -> String {
    let (dir, other) = if l.from.eq_ignore_ascii_case(me) {
        ("to", &l.to)
    } else {
        ("from", &l.from)
    };
    let state = match l.state {
        LetterState::Unread if l.from.eq_ignore_ascii_case(me) => {
            if l.delivered_at.is_some() {
                "delivered, unread"
            } else {
                "on its way"
            }
        }
        LetterState::Unread => "unread",
        LetterState::Read => "read",
        LetterState::Returned => "returned to sender",
    };
    let mut line = format!(
        "{}  {} {dir} {other}  {state}",
        short(&l.id),
        show::date(l.sent_at)
    );
    if let Some(body) = &l.body {
        let first: String = body.lines().next().unwrap_or("").chars().take(60).collect();
        line.push_str(&format!("  \"{first}\""));
    }
    for p in &l.parcels {
        line.push_str(&format!(
            "\n    parcel {}: {} ({} bytes)",
            p.index, p.name, p.size
        ));
    }
    line
}

/// Finds a letter by its id or the end of it, among the caller's inbox and sent letters.
async fn find_letter(api: &Api, id: &str) -> anyhow::Result<Letter> {
    if let Ok(uuid) = id.parse::<uuid::Uuid>() {
        return Ok(api.get(&format!("/api/v1/letters/{uuid}")).await?);
    }
    let mut found: Vec<Letter> = Vec::new();
    for which in ["inbox", "sent"] {
        let mut before = String::new();
        loop {
            let list: LetterList = api
                .get(&format!("/api/v1/letters?box={which}&limit=500{before}"))
                .await?;
            for l in list.letters {
                if l.id.to_string().ends_with(&id.to_lowercase())
                    && !found.iter().any(|f| f.id == l.id)
                {
                    found.push(l);
                }
            }
            match list.next {
                Some(next) => before = format!("&before={next}"),
                None => break,
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => anyhow::bail!(
            "no letter in your hands or sent by you ends with {id:?}: see haurach letter inbox"
        ),
        n => anyhow::bail!("{n} letters end with {id:?}: give more of the id"),
    }
}

async fn upload_parcels(api: &Api, files: &[PathBuf]) -> anyhow::Result<Vec<ParcelRef>> {
    let mut parcels = Vec::new();
    for file in files {
        let bytes = tokio::fs::read(file)
            .await
            .with_context(|| format!("cannot read {}", file.display()))?;
        let up: ParcelUpload = api.upload("/api/v1/parcels", bytes).await?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "parcel".into());
        parcels.push(ParcelRef {
            name,
            hash: up.hash,
        });
    }
    Ok(parcels)
}

/// Runs `haurach letter ...`.
pub async fn letter(ctx: Context, command: LetterCommand) -> anyhow::Result<()> {
    let (saved, api) = ctx.session(None)?;
    let me = saved.name.as_str();
    match command {
        LetterCommand::Send { to, text, parcels } => {
            let parcels = upload_parcels(&api, &parcels).await?;
            let send = SendLetter {
                to: Some(to),
                body: text.join(" "),
                parcels,
                in_reply_to: None,
                id: Some(uuid::Uuid::now_v7().to_string()),
            };
            let l: Letter = api.post("/api/v1/letters", &send).await?;
            outln!(
                "sent {} to {}: it is in their hands now",
                short(&l.id),
                l.to
            );
        }
        LetterCommand::Inbox { json } | LetterCommand::Sent { json } if json => {
            let which = if matches!(command, LetterCommand::Inbox { .. }) {
                "inbox"
            } else {
                "sent"
            };
            let list: LetterList = api.get(&format!("/api/v1/letters?box={which}")).await?;
            outln!("{}", serde_json::to_string_pretty(&list)?);
        }
        LetterCommand::Inbox { .. } | LetterCommand::Sent { .. } => {
            let which = if matches!(command, LetterCommand::Inbox { .. }) {
                "inbox"
            } else {
                "sent"
            };
            let list: LetterList = api.get(&format!("/api/v1/letters?box={which}")).await?;
            if list.letters.is_empty() {
                outln!("no letters");
            }
            for l in &list.letters {
                outln!("{}", letter_line(l, me));
            }
        }
        LetterCommand::Read { id, save } => {
            let l = find_letter(&api, &id).await?;
            let l: Letter = if l.state == LetterState::Unread && !l.from.eq_ignore_ascii_case(me) {
                api.json(
                    Method::POST,
                    &format!("/api/v1/letters/{}/read", l.id),
                    None,
                )
                .await?
            } else {
                l
            };
            outln!("from {} to {}, {}", l.from, l.to, show::date(l.sent_at));
            outln!("");
            outln!("{}", l.body.as_deref().unwrap_or("(sealed)"));
            for p in &l.parcels {
                match &save {
                    Some(dir) => {
                        let bytes = api
                            .download(&format!("/api/v1/letters/{}/parcels/{}", l.id, p.index))
                            .await?;
                        let path = save_new(dir, &safe_file_name(&p.name, p.index), &bytes)
                            .with_context(|| {
                                format!("cannot save parcel {} in {}", p.index, dir.display())
                            })?;
                        outln!("parcel saved: {} ({} bytes)", path.display(), bytes.len());
                    }
                    None => outln!(
                        "parcel {}: {} ({} bytes; --save DIR keeps it)",
                        p.index,
                        p.name,
                        p.size
                    ),
                }
            }
        }
        LetterCommand::Return { id } => {
            let l = find_letter(&api, &id).await?;
            let l: Letter = api
                .json(
                    Method::POST,
                    &format!("/api/v1/letters/{}/return", l.id),
                    None,
                )
                .await?;
            outln!("returned {} to {}", short(&l.id), l.from);
        }
        LetterCommand::Reply { id, text, parcels } => {
            let parent = find_letter(&api, &id).await?;
            let parcels = upload_parcels(&api, &parcels).await?;
            let send = SendLetter {
                to: None,
                body: text.join(" "),
                parcels,
                in_reply_to: Some(parent.id),
                id: Some(uuid::Uuid::now_v7().to_string()),
            };
            let l: Letter = api.post("/api/v1/letters", &send).await?;
            outln!("replied to {} with {}", l.to, short(&l.id));
        }
        LetterCommand::Thread { id } => {
            let l = find_letter(&api, &id).await?;
            let list: LetterList = api
                .get(&format!("/api/v1/letters/threads/{}", l.thread))
                .await?;
            for l in &list.letters {
                outln!("{}", letter_line(l, me));
            }
        }
    }
    Ok(())
}

fn summons_line(s: &Summons) -> String {
    let mut line = format!(
        "{}  {} summons {}: {}  (at {:.5}, {:.5})",
        short(&s.id),
        s.from,
        s.to,
        s.state.key(),
        s.summoner.lat,
        s.summoner.lon
    );
    if let (Some(b), Some(d)) = (s.bearing_deg, s.distance_m) {
        line.push_str(&format!(
            "; {} is {}, {} away",
            s.from,
            haurach_bond::geo::compass_point(b),
            haurach_proto::human::distance(d)
        ));
    }
    line
}

async fn find_summons(api: &Api, id: &str) -> anyhow::Result<Summons> {
    if let Ok(uuid) = id.parse::<uuid::Uuid>() {
        return Ok(api.get(&format!("/api/v1/summons/{uuid}")).await?);
    }
    let list: SummonsList = api.get("/api/v1/summons").await?;
    let mut found: Vec<Summons> = list
        .summonses
        .into_iter()
        .filter(|s| s.id.to_string().ends_with(&id.to_lowercase()))
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => anyhow::bail!("no open summons ends with {id:?}: see haurach summons list"),
        n => anyhow::bail!("{n} summonses end with {id:?}: give more of the id"),
    }
}

/// Runs `haurach summons ...`.
pub async fn summons(ctx: Context, command: SummonsCommand) -> anyhow::Result<()> {
    let (_, api) = ctx.session(None)?;
    match command {
        SummonsCommand::Allow { name } => {
            api.empty(
                Method::PUT,
                &format!("/api/v1/summons/allowed/{name}"),
                None,
            )
            .await?;
            let p: SummonPermissions = api.get("/api/v1/summons/allowed").await?;
            outln!("{name} may summon you (allowed: {})", p.allowed.join(", "));
        }
        SummonsCommand::Disallow { name } => {
            api.empty(
                Method::DELETE,
                &format!("/api/v1/summons/allowed/{name}"),
                None,
            )
            .await?;
            outln!("{name} may no longer summon you");
        }
        SummonsCommand::Call { name, lat, lon } => {
            let s: Summons = api
                .post(
                    "/api/v1/summons",
                    &SummonBody {
                        to: name,
                        lat,
                        lon,
                        accuracy_m: None,
                    },
                )
                .await?;
            outln!("{}", summons_line(&s));
            outln!("{} feels the call now, with the pull toward you", s.to);
        }
        SummonsCommand::List => {
            let list: SummonsList = api.get("/api/v1/summons").await?;
            if list.summonses.is_empty() {
                outln!("no summons is calling or on the way");
            }
            for s in &list.summonses {
                outln!("{}", summons_line(s));
            }
        }
        SummonsCommand::Accept { id } => answer(&api, &id, "accept").await?,
        SummonsCommand::Decline { id } => answer(&api, &id, "decline").await?,
        SummonsCommand::End { id } => answer(&api, &id, "end").await?,
    }
    Ok(())
}

async fn answer(api: &Api, id: &str, action: &str) -> anyhow::Result<()> {
    let s = find_summons(api, id).await?;
    let s: Summons = api
        .json(
            Method::POST,
            &format!("/api/v1/summons/{}/{action}", s.id),
            None,
        )
        .await?;
    outln!("{}", summons_line(&s));
    Ok(())
}

/// A parcel's name as a file name of the reader's: the sender chose it, so it may not
/// name a directory (`/`, `\\`), hide the file or aim at a dotfile (leading dots are
/// dropped), or carry control characters. What is left of nothing is `parcel-N`.
fn safe_file_name(name: &str, index: u32) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    let clean = clean.trim().trim_start_matches('.').trim();
    if clean.is_empty() {
        format!("parcel-{index}")
    } else {
        clean.to_owned()
    }
}

/// Writes `bytes` to a new file named `name` in `dir`, never over a file already there:
/// `box.png` taken, it is `box (1).png`, then `box (2).png`. Returns the path written.
fn save_new(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
        _ => (name, None),
    };
    for n in 0..1000 {
        let candidate = match (n, ext) {
            (0, _) => name.to_owned(),
            (n, Some(ext)) => format!("{stem} ({n}).{ext}"),
            (n, None) => format!("{stem} ({n})"),
        };
        let path = dir.join(candidate);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(bytes)?;
                file.sync_all()?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "{name} and a thousand numbered copies of it are there already"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parcels_name_cannot_leave_the_folder_or_hide_as_a_dotfile() {
        assert_eq!(safe_file_name(".bashrc", 0), "bashrc");
        assert_eq!(
            safe_file_name("../../.ssh/authorized_keys", 1),
            "authorized_keys"
        );
        assert_eq!(safe_file_name("..\\..\\boot.ini", 2), "boot.ini");
        assert_eq!(safe_file_name("...", 3), "parcel-3");
        assert_eq!(safe_file_name("a\nb\u{1b}.txt", 4), "a_b_.txt");
        assert_eq!(safe_file_name("box.png", 5), "box.png");
    }

    #[test]
    fn a_saved_parcel_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("box.png"), b"mine").unwrap();
        let first = save_new(dir.path(), "box.png", b"theirs").unwrap();
        let second = save_new(dir.path(), "box.png", b"again").unwrap();
        assert_eq!(std::fs::read(dir.path().join("box.png")).unwrap(), b"mine");
        assert_eq!(first, dir.path().join("box (1).png"));
        assert_eq!(second, dir.path().join("box (2).png"));
        assert_eq!(std::fs::read(&first).unwrap(), b"theirs");
    }
}
