//! A private bond from the command line (issue 20, `docs/privacy.md`): `invite
//! --private` and `accept` with a private code, the device's keys kept here until the
//! bond key is derived and confirmed, and this device's latest fix, from which the pull
//! toward the partner's sealed position is worked out here (`super::sealed`).
//!
//! What this device keeps, per server and person, in `HOME/private.toml` (mode 0600): its
//! X25519 secret, the invite's secret until the bond key is derived from it, the bond
//! key, whether the partner's device confirmed the same key, the counter of what it
//! sealed, its own latest fix (and when, to judge the next one's stretch), the cell it
//! last sealed (kept while the fix stays near it: `haurach_private::rounding`), which of the
//! partner's counters it opened where (`haurach_private::seen`, to refuse what the server
//! sends again), and this person's places with what it learnt of the meeting point and
//! the partner's places (`super::sealed_places`). The server is sent the invite secret's
//! lookup hash, the public key, this device's confirmation tag, token reports and sealed
//! content; never the secret, the bond key or a coordinate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use haurach_bond::{Fix, Profile};
use haurach_private::rounding::Cell;
use haurach_private::{BondKey, DeviceSecret, InviteSecret, Place, Role, Seen, Verdict, invite};
use haurach_proto::private::{key_from_hex, to_hex};
use haurach_proto::{
    AcceptPrivateInvite, BondView, Confirmation, NewPrivateInvite, PlacesView, PrivateBondView,
    PrivateInvite,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::api::Api;
use super::context::Context;
use super::place_book::{OwnPlace, PlaceBook};
use super::sessions::{create_private_dir, server_key, write_private};
use super::show;

/// The file's name inside the home directory.
pub const FILE_NAME: &str = "private.toml";

/// The lock every change of [`FILE_NAME`] holds ([`Keys::lock`]).
const LOCK_NAME: &str = "private.lock";

/// Every private bond this machine's people hold: by server (as [`server_key`] spells
/// it), then by name in lowercase.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Keys {
    #[serde(default)]
    servers: BTreeMap<String, BTreeMap<String, Entry>>,
}

/// One person's private bond (or invite) on one server. Secrets in hex.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// `inviter` or `accepter`.
    role: String,
    /// This device's X25519 secret.
    device_secret: String,
    /// The invite's secret as its code, until the bond key is derived (the inviter's
    /// side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    invite_secret: Option<String>,
    /// The bond key, once derived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bond_key: Option<String>,
    /// Whether the partner's confirmation tag matched this bond key.
    #[serde(default)]
    confirmed: bool,
    /// How many things this device has sealed in the bond: the counter of the last one,
    /// bound into its associated data.
    #[serde(default)]
    sealed: u64,
    /// This device's latest fix, from which the pull toward the partner's sealed position
    /// is worked out here (the server never has it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_fix: Option<OwnFix>,
    /// The cell this device last sealed its position to, sent again while the fix stays
    /// within it grown by half its side (`rounding::round_keeping`); none after an exact
    /// position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kept_cell: Option<Cell>,
    /// Which of the partner's sealed counters this device opened, and where: a bounded
    /// memory (`haurach_private::seen`) that tells a replay from a resume.
    #[serde(default)]
    seen: Seen,
    /// This person's places, kept on this device only, and what it knows of the
    /// meeting point and the partner's places from the bond's sealed messages
    /// (`super::sealed_places`).
    #[serde(default)]
    places: PlaceBook,
}

/// Where this device last was, as `move`, `walk` or `replay` sent it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct OwnFix {
    lat: f64,
    lon: f64,
    accuracy_m: f64,
    /// When it was taken, Unix milliseconds: the next fix's stretch is judged from it.
    /// Absent once a pause started the stretch afresh (as the plain bond's server does),
    /// and in a file written before the stretch was judged here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at_ms: Option<i64>,
}

impl Entry {
    /// A new invite's, made (`inviter`) or being accepted (`accepter`) on this device:
    /// the invite's secret kept until the bond key is derived from it.
    fn new(role: &str, device: &DeviceSecret, secret: &InviteSecret) -> Entry {
        Entry {
            role: role.into(),
            device_secret: to_hex(&device.to_bytes()),
            invite_secret: Some(invite::code(secret)),
            bond_key: None,
            confirmed: false,
            sealed: 0,
            last_fix: None,
            kept_cell: None,
            seen: Seen::default(),
            places: PlaceBook::default(),
        }
    }

    fn role(&self) -> Role {
        if self.role == "inviter" {
            Role::Inviter
        } else {
            Role::Accepter
        }
    }

    fn device(&self) -> anyhow::Result<DeviceSecret> {
        Ok(DeviceSecret::from_bytes(hex32(&self.device_secret)?))
    }
}

fn hex32(text: &str) -> anyhow::Result<[u8; 32]> {
    key_from_hex(text).context("private.toml holds a key that is not 32 bytes of hex")
}

impl Keys {
    /// Takes the lock on this machine's private keys for as long as the file is held:
    /// every read, change and write of `private.toml` holds it, so two commands at once
    /// (a `watch` judging what it opened while a `move` remembers its fix or a `say`
    /// takes a counter) cannot write back what the other changed. Without it a `watch`
    /// put back an older latest fix (a stretch judged from the wrong fix, seen in the
    /// stretch's test), and could put back an older counter.
    fn lock(home: &Path) -> anyhow::Result<std::fs::File> {
        create_private_dir(home)?;
        let path = home.join(LOCK_NAME);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(file)
    }

    fn load(home: &Path) -> anyhow::Result<Keys> {
        let path = home.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("{} is not a private keys file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Keys::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn save(&self, home: &Path) -> anyhow::Result<()> {
        let text = toml::to_string(self).context("cannot encode the private keys")?;
        write_private(home, FILE_NAME, &text)
    }

    fn get(&self, server: &str, name: &str) -> Option<&Entry> {
        self.servers
            .get(&server_key(server))?
            .get(&name.to_lowercase())
    }

    fn remove(&mut self, server: &str, name: &str) {
        if let Some(people) = self.servers.get_mut(&server_key(server)) {
            people.remove(&name.to_lowercase());
        }
    }

    fn put(&mut self, server: &str, name: &str, entry: Entry) {
        self.servers
            .entry(server_key(server))
            .or_default()
            .insert(name.to_lowercase(), entry);
    }
}

/// This person's places, on their way from the server to this device as a private
/// invite is made or accepted: a private bond keeps no place on the server. They are
/// written into `private.toml` (beside the places an earlier private bond left here)
/// before the server is asked to forget them, in the same transaction as the invite or
/// the bond; if it refuses, the file is put back as it was.
struct Moving {
    /// The names the server forgets.
    names: Vec<String>,
    /// The entry this one replaced, put back by [`Moving::undo`].
    before: Option<Entry>,
}

impl Moving {
    /// Reads this person's places from the server and writes `entry`, holding them, in
    /// place of any earlier one (whose own places it keeps too).
    async fn keep(
        ctx: &Context,
        name: &str,
        api: &Api,
        mut entry: Entry,
    ) -> anyhow::Result<Moving> {
        let stored: PlacesView = api.get("/api/v1/places").await?;
        let _lock = Keys::lock(&ctx.home)?;
        let mut keys = Keys::load(&ctx.home)?;
        let before = keys.get(&ctx.server, name).cloned();
        if let Some(old) = &before {
            // A person's places are theirs, not a bond's: an earlier invite or bond's
            // stay with them.
            entry.places.mine = old.places.mine.clone();
        }
        let mut names = Vec::new();
        for p in stored.mine {
            let Some(at) = p.position else { continue };
            entry.places.keep(OwnPlace {
                name: p.name.clone(),
                lat: at.lat,
                lon: at.lon,
                radius_m: p.radius_m,
                inside: p.inside,
            });
            names.push(p.name);
        }
        keys.put(&ctx.server, name, entry);
        keys.save(&ctx.home)?;
        Ok(Moving { names, before })
    }

    fn names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// The request failed: when the server answered (it refused, and kept the places),
    /// the file goes back as it was. Without an answer the server may have made the
    /// invite or bond and forgotten the places, so this device keeps them.
    fn undo(self, ctx: &Context, name: &str, failed: &super::api::ApiError) -> anyhow::Result<()> {
        if failed.code().is_none() {
            return Ok(());
        }
        let _lock = Keys::lock(&ctx.home)?;
        let mut keys = Keys::load(&ctx.home)?;
        match self.before {
            Some(entry) => keys.put(&ctx.server, name, entry),
            None => keys.remove(&ctx.server, name),
        }
        keys.save(&ctx.home)
    }

    fn tell(&self) {
        if !self.names.is_empty() {
            outln!(
                "your {} kept on this device now: a private bond keeps no place on the \
                 server, so it forgot {} ({})",
                plural(self.names.len(), "place is", "places are"),
                if self.names.len() == 1 { "it" } else { "them" },
                self.names.join(", ")
            );
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Whether `code` is a private invite's code (`HP1-…`, or its 32 characters bare) rather
/// than a plain invite's eight.
pub fn is_private_code(code: &str) -> bool {
    invite::parse_code(invite::code_in(code)).is_ok()
}

/// `haurach invite --private`: makes the invite's secret and this device's keys, sends
/// the server only the secret's lookup hash and the public key, keeps the rest here, and
/// prints the code (and writes its QR code as SVG to `qr`).
pub async fn invite(ctx: &Context, qr: Option<PathBuf>) -> anyhow::Result<()> {
    let (saved, api) = ctx.session(None)?;
    let secret = InviteSecret::generate();
    let device = DeviceSecret::generate();
    let entry = Entry::new("inviter", &device, &secret);
    let moving = Moving::keep(ctx, &saved.name, &api, entry).await?;
    let body = NewPrivateInvite {
        lookup: to_hex(&secret.lookup()),
        public_key: to_hex(&device.public()),
        forget_places: moving.names(),
    };
    let made: PrivateInvite = match api.post("/api/v1/bond/private-invites", &body).await {
        Ok(made) => made,
        Err(e) => {
            moving.undo(ctx, &saved.name, &e)?;
            return Err(e.into());
        }
    };
    let code = invite::code(&secret);
    outln!(
        "private invite code: {code} (works until {})",
        show::date(made.expires_at)
    );
    outln!("the server never sees it: give it to your partner yourself, who accepts it with:");
    outln!("  {} accept {code}", ctx.command_prefix());
    if let Some(path) = qr {
        std::fs::write(&path, invite::qr_svg(&ctx.server, &secret))
            .with_context(|| format!("cannot write {}", path.display()))?;
        outln!(
            "its QR code is in {}: a phone's camera opens the web page from it, with the code \
             filled in",
            path.display()
        );
    }
    moving.tell();
    outln!("{NO_OWNTRACKS}");
    Ok(())
}

/// `haurach accept HP1-…`: accepts a private invite, derives the bond key, and sends this
/// device's confirmation tag.
pub async fn accept(ctx: &Context, code: &str, profile: Option<Profile>) -> anyhow::Result<()> {
    let (saved, api) = ctx.session(None)?;
    // The code, or the link its QR code holds, pasted.
    let secret = invite::parse_code(invite::code_in(code))?;
    let device = DeviceSecret::generate();
    // Kept first with the invite's secret: a command cut short after the server made the
    // bond finds the invite here and derives the key as the inviter's device does.
    let entry = Entry::new("accepter", &device, &secret);
    let moving = Moving::keep(ctx, &saved.name, &api, entry).await?;
    let body = AcceptPrivateInvite {
        lookup: to_hex(&secret.lookup()),
        public_key: to_hex(&device.public()),
        profile,
        forget_places: moving.names(),
    };
    let view: BondView = match api.post("/api/v1/bond/private", &body).await {
        Ok(view) => view,
        Err(e) => {
            moving.undo(ctx, &saved.name, &e)?;
            return Err(e.into());
        }
    };
    let keys_view: PrivateBondView = api.get("/api/v1/bond/private").await?;
    let inviter_key = hex32(&keys_view.inviter_key)?;
    let key = BondKey::derive(Role::Accepter, &device, &inviter_key, &secret)?;
    confirm(&api, &key, Role::Accepter).await?;
    {
        let _lock = Keys::lock(&ctx.home)?;
        let mut keys = Keys::load(&ctx.home)?;
        let mut entry = keys
            .get(&ctx.server, &saved.name)
            .cloned()
            .context("private.toml lost this bond while it was being made")?;
        entry.bond_key = Some(to_hex(&key.to_bytes()));
        // The secret has done its work: the bond key is all this device needs now.
        entry.invite_secret = None;
        keys.put(&ctx.server, &saved.name, entry);
        keys.save(&ctx.home)?;
    }
    outln!(
        "bonded privately with {} ({} profile)",
        view.partner,
        view.profile.key()
    );
    outln!(
        "{}'s device confirms the keys the next time they use haurach; until then nothing is sent",
        view.partner
    );
    moving.tell();
    outln!("{NO_OWNTRACKS}");
    outln!("{}", bond_text(&view));
    Ok(())
}

async fn confirm(api: &Api, key: &BondKey, role: Role) -> anyhow::Result<()> {
    let tag = Confirmation {
        tag: to_hex(&key.confirmation(role)),
    };
    api.empty(Method::PUT, "/api/v1/bond/private/confirmation", Some(&tag))
        .await?;
    Ok(())
}

/// Where this device's private bond stands.
pub enum Standing {
    /// This person has no private bond or invite here: the bond is plain.
    Plain,
    /// The bond key is derived, and the partner's device has not confirmed it yet.
    Waiting,
    /// Both devices hold the same bond key.
    Confirmed(BondKey),
}

/// Brings this device's private bond as far as it can go: derives the bond key once the
/// invite is accepted (and sends this device's tag), and checks the partner's tag once
/// it is there. A tag that does not match fails loudly: the keys were swapped on the way.
pub async fn standing(ctx: &Context, name: &str, api: &Api) -> anyhow::Result<Standing> {
    let _lock = Keys::lock(&ctx.home)?;
    let mut keys = Keys::load(&ctx.home)?;
    let Some(mut entry) = keys.get(&ctx.server, name).cloned() else {
        return Ok(Standing::Plain);
    };
    if entry.confirmed {
        let key = BondKey::from_bytes(hex32(entry.bond_key.as_deref().unwrap_or_default())?);
        return Ok(Standing::Confirmed(key));
    }
    let view: PrivateBondView = match api.get("/api/v1/bond/private").await {
        Ok(view) => view,
        Err(e) if e.code() == Some("not_bonded") => {
            anyhow::bail!("your private invite has not been accepted yet")
        }
        Err(e) => return Err(e.into()),
    };
    let role = entry.role();
    let partner_key = hex32(match role {
        Role::Inviter => &view.accepter_key,
        Role::Accepter => &view.inviter_key,
    })?;
    let key = match (&entry.bond_key, &entry.invite_secret) {
        (Some(key), _) => BondKey::from_bytes(hex32(key)?),
        (None, Some(secret)) => {
            let secret = invite::parse_code(secret)?;
            let key = BondKey::derive(role, &entry.device()?, &partner_key, &secret)?;
            confirm(api, &key, role).await?;
            entry.bond_key = Some(to_hex(&key.to_bytes()));
            // The secret has done its work: the bond key is all this device needs now.
            entry.invite_secret = None;
            key
        }
        (None, None) => anyhow::bail!("private.toml holds neither the bond key nor the invite"),
    };
    let partner_tag = match role {
        Role::Inviter => &view.accepter_tag,
        Role::Accepter => &view.inviter_tag,
    };
    let standing = match partner_tag {
        None => Standing::Waiting,
        Some(tag) => {
            let tag = hex32(tag)?;
            if key.check_confirmation(role.other(), &tag).is_err() {
                anyhow::bail!(
                    "the bond's keys do not match your partner's: they were tampered with on the \
                     way (the server swapped a public key?). Nothing was sent; end the bond \
                     (haurach unbond) and make a new private invite"
                );
            }
            entry.confirmed = true;
            Standing::Confirmed(key)
        }
    };
    keys.put(&ctx.server, name, entry);
    keys.save(&ctx.home)?;
    Ok(standing)
}

/// The counter for the next thing this device seals in `name`'s private bond: one more
/// than the last, written down before it is used so no two share one.
pub fn next_counter(home: &Path, server: &str, name: &str) -> anyhow::Result<u64> {
    let _lock = Keys::lock(home)?;
    let mut keys = Keys::load(home)?;
    let Some(mut entry) = keys.get(server, name).cloned() else {
        anyhow::bail!("this device holds no private bond for {name}");
    };
    entry.sealed += 1;
    let counter = entry.sealed;
    keys.put(server, name, entry);
    keys.save(home)?;
    Ok(counter)
}

/// Whether the partner's sealed thing of `counter`, which opened at `place` in `name`'s
/// private bond, may be shown (`haurach_private::seen`); remembers it here when it is
/// new, written before it is shown.
pub fn judge(
    home: &Path,
    server: &str,
    name: &str,
    counter: u64,
    place: Place<'_>,
) -> anyhow::Result<Verdict> {
    let _lock = Keys::lock(home)?;
    let mut keys = Keys::load(home)?;
    let Some(mut entry) = keys.get(server, name).cloned() else {
        anyhow::bail!("this device holds no private bond for {name}");
    };
    let (verdict, changed) = entry.seen.open(counter, place);
    if changed {
        keys.put(server, name, entry);
        keys.save(home)?;
    }
    Ok(verdict)
}

/// Remembers `fix` as this device's latest in `name`'s private bond, and `cell` as the
/// cell it was sealed to (none when it went exact).
pub fn remember_fix(
    home: &Path,
    server: &str,
    name: &str,
    fix: &Fix,
    cell: Option<Cell>,
) -> anyhow::Result<()> {
    let _lock = Keys::lock(home)?;
    let mut keys = Keys::load(home)?;
    let Some(mut entry) = keys.get(server, name).cloned() else {
        anyhow::bail!("this device holds no private bond for {name}");
    };
    entry.last_fix = Some(OwnFix {
        lat: fix.lat,
        lon: fix.lon,
        accuracy_m: fix.accuracy_m,
        at_ms: Some(fix.at_ms),
    });
    entry.kept_cell = cell;
    keys.put(server, name, entry);
    keys.save(home)
}

/// Starts the stretch afresh in `name`'s private bond, if this device holds one: the
/// next fix is judged from nothing, as the plain bond's server does when a pause starts.
/// The fix itself is kept, for the pull.
pub fn restart_stretch(home: &Path, server: &str, name: &str) -> anyhow::Result<()> {
    let _lock = Keys::lock(home)?;
    let mut keys = Keys::load(home)?;
    let Some(mut entry) = keys.get(server, name).cloned() else {
        return Ok(());
    };
    if let Some(fix) = &mut entry.last_fix
        && fix.at_ms.take().is_some()
    {
        keys.put(server, name, entry);
        keys.save(home)?;
    }
    Ok(())
}

/// This person's places and what this device knows of the meeting point and the
/// partner's places, in `name`'s private bond.
pub fn place_book(home: &Path, server: &str, name: &str) -> anyhow::Result<PlaceBook> {
    let keys = Keys::load(home)?;
    keys.get(server, name)
        .map(|e| e.places.clone())
        .with_context(|| format!("this device holds no private bond for {name}"))
}

/// Writes down `book` in `name`'s private bond.
pub fn keep_place_book(
    home: &Path,
    server: &str,
    name: &str,
    book: PlaceBook,
) -> anyhow::Result<()> {
    let _lock = Keys::lock(home)?;
    let mut keys = Keys::load(home)?;
    let Some(mut entry) = keys.get(server, name).cloned() else {
        anyhow::bail!("this device holds no private bond for {name}");
    };
    entry.places = book;
    keys.put(server, name, entry);
    keys.save(home)
}

/// This device's latest fix in `name`'s private bond, if it sent one; its `at_ms` is 0
/// when it is not to be judged from (see [`stretch_from`]).
pub fn last_fix(home: &Path, server: &str, name: &str) -> anyhow::Result<Option<Fix>> {
    let keys = Keys::load(home)?;
    Ok(keys
        .get(server, name)
        .and_then(|e| e.last_fix)
        .map(|f| Fix {
            lat: f.lat,
            lon: f.lon,
            accuracy_m: f.accuracy_m,
            at_ms: f.at_ms.unwrap_or(0),
        }))
}

/// The cell this device last sealed its position to in `name`'s private bond, if any.
pub fn kept_cell(home: &Path, server: &str, name: &str) -> anyhow::Result<Option<Cell>> {
    let keys = Keys::load(home)?;
    Ok(keys.get(server, name).and_then(|e| e.kept_cell))
}

/// The fix the next one's stretch is judged from: the latest, when its time is known and
/// no pause started since.
pub fn stretch_from(home: &Path, server: &str, name: &str) -> anyhow::Result<Option<Fix>> {
    let keys = Keys::load(home)?;
    Ok(keys
        .get(server, name)
        .and_then(|e| e.last_fix)
        .and_then(|f| {
            Some(Fix {
                lat: f.lat,
                lon: f.lon,
                accuracy_m: f.accuracy_m,
                at_ms: f.at_ms?,
            })
        }))
}

/// Which of the two this device is in `name`'s private bond.
pub fn role(ctx: &Context, name: &str) -> anyhow::Result<Role> {
    let keys = Keys::load(&ctx.home)?;
    keys.get(&ctx.server, name)
        .map(Entry::role)
        .context("this device holds no private bond")
}

/// Forgets this person's private bond here (after `unbond`).
pub fn forget(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let _lock = Keys::lock(&ctx.home)?;
    let mut keys = Keys::load(&ctx.home)?;
    if let Some(on) = keys.servers.get_mut(&server_key(&ctx.server))
        && on.remove(&name.to_lowercase()).is_some()
    {
        keys.save(&ctx.home)?;
    }
    Ok(())
}

/// The bond as `show::bond` says it, after a line saying what a private bond knows. Its
/// pull is the one worked out on this device ([`super::sealed::Sealing::with_pull`]).
pub fn bond_text(view: &BondView) -> String {
    format!(
        "{}: a private bond (the server knows which tiers are open, not where either of you is)\n{}",
        view.partner,
        show::bond(view)
    )
}

/// What a person setting up the OwnTracks app for a private bond is told.
pub const NO_OWNTRACKS: &str = "the OwnTracks app cannot take part in a private bond: it would send \
     your position to the server in the clear, and the server refuses it (its own encryption \
     is a secret the server would have to hold)";
