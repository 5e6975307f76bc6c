//! `haurach place`, `haurach meet` and `haurach journey`: places, the meeting point and
//! the export of one's own journey as GPX. In a private bond places and the meeting point
//! stay on this device and travel sealed (`super::sealed_places`).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use haurach_proto::{
    BondView, MeetingKind, MeetingLeg, MeetingView, PinMeeting, PlaceInput, PlaceView, PlacesView,
    human,
};
use reqwest::Method;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::api::Api;
use super::context::Context;
use super::place_book::{HeardPlace, OwnPlace, PlaceBook};
use super::sealed::Sealing;
use super::show;

/// `haurach place ...`.
#[derive(Debug, Args)]
pub struct PlaceArgs {
    #[command(subcommand)]
    command: PlaceCommand,
}

#[derive(Debug, Subcommand)]
enum PlaceCommand {
    /// Name a place (or move one you named): a centre and a radius
    ///
    /// You arrive when your whole fix (with its accuracy) is within the radius, and
    /// leave when it is wholly beyond 1.1 × the radius (at least 25 m more), so
    /// standing on the edge does not flap. Your partner hears of it, by name, at any
    /// range; they see where the place is only within sight range.
    ///
    /// Examples:
    ///   haurach place add home 45.7681 14.3605 --radius 80
    ///   haurach place add "the Needle" -- -33.92 18.42 --radius 50
    #[command(verbatim_doc_comment, allow_negative_numbers = true)]
    Add {
        /// Its name (1 to 64 characters).
        name: String,
        /// Latitude of the centre, degrees.
        lat: f64,
        /// Longitude of the centre, degrees.
        lon: f64,
        /// Radius, metres (10 to 50,000).
        #[arg(long, value_name = "M", default_value_t = 100.0)]
        radius: f64,
    },
    /// Your places and your partner's, and who is where
    ///
    /// Examples:
    ///   haurach place list
    ///   haurach place list --json
    #[command(verbatim_doc_comment)]
    List {
        /// Print them as the API gives them (JSON).
        #[arg(long)]
        json: bool,
    },
    /// Forget one of your places
    ///
    /// Example:
    ///   haurach place rm work
    #[command(verbatim_doc_comment)]
    Rm {
        /// Its name (any case).
        name: String,
    },
}

/// `haurach meet`.
#[derive(Debug, Args)]
pub struct MeetArgs {
    /// Pin the meeting point to one of your places, by name.
    #[arg(long, value_name = "PLACE", conflicts_with_all = ["at", "unpin"])]
    pin: Option<String>,
    /// Pin the meeting point to a point: LAT,LON.
    #[arg(long, value_name = "LAT,LON", value_parser = parse_point, allow_hyphen_values = true, conflicts_with = "unpin")]
    at: Option<(f64, f64)>,
    /// A label for the pinned point.
    #[arg(long, requires = "at")]
    name: Option<String>,
    /// Unpin it: back to Haurach's fair suggestion.
    #[arg(long)]
    unpin: bool,
    /// Print the meeting point as the API gives it (JSON).
    #[arg(long)]
    json: bool,
}

/// `haurach journey`.
#[derive(Debug, Args)]
pub struct JourneyArgs {
    /// Where to write the GPX ("-": stdout).
    #[arg(long, value_name = "FILE")]
    gpx: PathBuf,
    /// From this time (RFC 3339, e.g. 2026-11-23T08:00:00Z) [default: as far back as kept].
    #[arg(long, value_parser = parse_time)]
    from: Option<OffsetDateTime>,
    /// Until this time [default: now].
    #[arg(long, value_parser = parse_time)]
    to: Option<OffsetDateTime>,
}

fn parse_point(s: &str) -> Result<(f64, f64), String> {
    let (lat, lon) = s
        .split_once(',')
        .ok_or_else(|| "write the point as LAT,LON, e.g. 45.77,14.36".to_owned())?;
    let num = |v: &str| {
        v.trim()
            .parse::<f64>()
            .map_err(|e| format!("{v:?} is not a number: {e}"))
    };
    Ok((num(lat)?, num(lon)?))
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("write a time as RFC 3339, e.g. 2026-11-23T08:00:00Z: {e}"))
}

/// A path segment: unreserved characters as they are, every other byte %-encoded.
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A query value, %-encoded the same way.
fn query_value(t: OffsetDateTime) -> String {
    segment(&t.format(&Rfc3339).unwrap_or_default())
}

/// A place on one line; `owner` is "you are" or "they are".
fn place_line(p: &PlaceView, owner: &str) -> String {
    let where_ = match p.position {
        Some(c) => format!("at {:.5}, {:.5}", c.lat, c.lon),
        None => "(where: within sight range)".to_owned(),
    };
    let state = if p.inside {
        format!("{owner} there")
    } else {
        format!("{owner} not there")
    };
    format!(
        "  {} — {where_}, radius {}; {state}",
        p.name,
        human::distance(p.radius_m)
    )
}

/// Seconds as a person reads them: "40 s", "12 min", "2 h 05 min".
fn eta(seconds: f64) -> String {
    human::duration_ms((seconds * 1000.0) as i64)
}

fn leg_line(who: &str, leg: &MeetingLeg) -> String {
    if leg.arrived {
        return format!("{who} there");
    }
    let toward = leg
        .bearing_deg
        .map(|b| format!(" {}", haurach_bond::geo::compass_point(b)))
        .unwrap_or_default();
    format!(
        "{who} {}{toward}, about {}",
        human::distance(leg.distance_m),
        eta(leg.eta_s)
    )
}

/// The meeting point as a person reads it.
pub fn meeting_sentence(view: &MeetingView) -> String {
    let what = match (view.kind, &view.name, &view.pinned_by) {
        (MeetingKind::Pinned, Some(name), Some(by)) => format!("meet at {name} (pinned by {by})"),
        (MeetingKind::Pinned, None, Some(by)) => format!("meet at the point {by} pinned"),
        (MeetingKind::Pinned, _, None) => "meet at the pinned point".to_owned(),
        (MeetingKind::Suggested, _, _) if view.by_speed => {
            "meet where you both arrive soonest".to_owned()
        }
        (MeetingKind::Suggested, _, _) => "meet halfway".to_owned(),
    };
    let at = view
        .position
        .map(|p| format!(" ({:.5}, {:.5})", p.lat, p.lon))
        .unwrap_or_default();
    let mut line = format!("{what}{at}: {}", leg_line("you are", &view.you));
    if let Some(p) = &view.partner {
        line.push_str(&format!("; {}", leg_line("your partner is", p)));
    }
    line
}

/// A place of the partner's as their device last told of it, in a private bond.
fn heard_line(p: &HeardPlace) -> String {
    let where_ = match p.position {
        Some(c) => format!("at {:.5}, {:.5}", c.lat, c.lon),
        None => "(where: within sight range)".to_owned(),
    };
    let state = if p.inside {
        "they are there"
    } else {
        "they are not there"
    };
    format!(
        "  {} — {where_}; {state} (as their device said at {})",
        p.name,
        show::date(p.at)
    )
}

/// Places the server still keeps of this person's in a private bond (one made before
/// the server forgot them as a bond turned private): kept on this device first, then
/// deleted on the server.
async fn bring_stored(api: &Api, sealing: &Sealing, book: &mut PlaceBook) -> anyhow::Result<()> {
    let stored: PlacesView = api.get("/api/v1/places").await?;
    if stored.mine.is_empty() {
        return Ok(());
    }
    for p in &stored.mine {
        if let Some(at) = p.position {
            book.keep(OwnPlace {
                name: p.name.clone(),
                lat: at.lat,
                lon: at.lon,
                radius_m: p.radius_m,
                inside: p.inside,
            });
        }
    }
    sealing.keep_place_book(book.clone())?;
    for p in &stored.mine {
        api.empty(
            Method::DELETE,
            &format!("/api/v1/places/{}", segment(&p.name)),
            None,
        )
        .await?;
        outln!(
            "{} is kept on this device now; the server forgot it",
            p.name
        );
    }
    Ok(())
}

/// `haurach place` in a private bond: the places live on this device, and the partner's
/// are what their device told of them (`super::sealed_places`).
async fn place_sealed(
    api: &Api,
    name: &str,
    sealing: &Sealing,
    command: PlaceCommand,
) -> anyhow::Result<()> {
    let view: BondView = api.get("/api/v1/bond").await?;
    let mut book = sealing.catch_up(api, name, view.last_seq).await?;
    bring_stored(api, sealing, &mut book).await?;
    match command {
        PlaceCommand::Add {
            name,
            lat,
            lon,
            radius,
        } => {
            let place = OwnPlace {
                name,
                lat,
                lon,
                radius_m: radius,
                inside: false,
            };
            let name = place.name.clone();
            book.put(place, sealing.last_fix()?.as_ref())?;
            sealing.keep_place_book(book.clone())?;
            let kept = book.own(&name).context("a place just kept")?;
            outln!("{}", place_line(&kept.view(), "you are"));
            outln!(
                "(kept on this device only: your partner hears of it, sealed, when you arrive \
                 or leave)"
            );
        }
        PlaceCommand::List { json } => {
            if json {
                let partner: Vec<PlaceView> = book
                    .partner
                    .iter()
                    .map(|p| PlaceView {
                        name: p.name.clone(),
                        // Their device does not say the radius.
                        radius_m: 0.0,
                        position: p.position,
                        inside: p.inside,
                    })
                    .collect();
                let list = PlacesView {
                    mine: book.mine.iter().map(OwnPlace::view).collect(),
                    partner,
                    meeting: sealing.meeting(&book, &view)?,
                };
                outln!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            if book.mine.is_empty() {
                outln!("{name} has no places yet (haurach place add NAME LAT LON)");
            } else {
                outln!("{name}'s places (kept on this device):");
                for p in &book.mine {
                    outln!("{}", place_line(&p.view(), "you are"));
                }
            }
            if !book.partner.is_empty() {
                outln!("your partner's places, as their device told of them:");
                for p in &book.partner {
                    outln!("{}", heard_line(p));
                }
            }
        }
        PlaceCommand::Rm { name } => {
            if !book.remove(&name) {
                anyhow::bail!("you have no place named {name:?}");
            }
            sealing.keep_place_book(book)?;
            outln!("forgot {name}");
        }
    }
    Ok(())
}

/// Runs `haurach place`.
pub async fn place(ctx: Context, args: PlaceArgs) -> anyhow::Result<()> {
    let (saved, api) = ctx.session(None)?;
    if let Some(sealing) = Sealing::of(&ctx, &saved.name, &api).await? {
        return place_sealed(&api, &saved.name, &sealing, args.command).await;
    }
    match args.command {
        PlaceCommand::Add {
            name,
            lat,
            lon,
            radius,
        } => {
            let input = PlaceInput {
                lat,
                lon,
                radius_m: radius,
            };
            let view: PlaceView = api
                .json(
                    Method::PUT,
                    &format!("/api/v1/places/{}", segment(&name)),
                    Some(&input),
                )
                .await?;
            outln!("{}", place_line(&view, "you are"));
        }
        PlaceCommand::List { json } => {
            let view: PlacesView = api.get("/api/v1/places").await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&view)?);
                return Ok(());
            }
            if view.mine.is_empty() {
                outln!(
                    "{} has no places yet (haurach place add NAME LAT LON)",
                    saved.name
                );
            } else {
                outln!("{}'s places:", saved.name);
                for p in &view.mine {
                    outln!("{}", place_line(p, "you are"));
                }
            }
            if !view.partner.is_empty() {
                outln!("your partner's places:");
                for p in &view.partner {
                    outln!("{}", place_line(p, "they are"));
                }
            }
        }
        PlaceCommand::Rm { name } => {
            api.empty(
                Method::DELETE,
                &format!("/api/v1/places/{}", segment(&name)),
                None,
            )
            .await?;
            outln!("forgot {name}");
        }
    }
    Ok(())
}

/// `haurach meet` in a private bond: the pin goes to the partner sealed, and each device
/// works out its own way to it (`super::sealed_places`).
async fn meet_sealed(
    api: &Api,
    name: &str,
    sealing: &Sealing,
    args: MeetArgs,
) -> anyhow::Result<()> {
    let view: BondView = api.get("/api/v1/bond").await?;
    let mut book = sealing.catch_up(api, name, view.last_seq).await?;
    if args.unpin {
        book = sealing.pin(api, name, None).await?;
    } else if let Some(place) = &args.pin {
        let p = book
            .own(place)
            .with_context(|| format!("you have no place named {place:?}"))?;
        let pin = (
            p.lat,
            p.lon,
            Some(args.name.clone().unwrap_or(p.name.clone())),
        );
        book = sealing.pin(api, name, Some(pin)).await?;
    } else if let Some((lat, lon)) = args.at {
        book = sealing
            .pin(api, name, Some((lat, lon, args.name.clone())))
            .await?;
    }
    let Some(meeting) = sealing.meeting(&book, &view)? else {
        if args.unpin {
            outln!("the meeting point is unpinned (a private bond's server cannot suggest one)");
            return Ok(());
        }
        anyhow::bail!(if book.pin.is_some() {
            "where to meet is pinned, and your own position is not known yet: haurach move LAT LON"
        } else {
            "no meeting point is pinned: pin one (haurach meet --at LAT,LON); a private bond's \
             server knows no position, so it cannot suggest one"
        });
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&meeting)?);
    } else {
        outln!("{}", meeting_sentence(&meeting));
    }
    Ok(())
}

/// Runs `haurach meet`.
pub async fn meet(ctx: Context, args: MeetArgs) -> anyhow::Result<()> {
    let (saved, api) = ctx.session(None)?;
    if let Some(sealing) = Sealing::of(&ctx, &saved.name, &api).await? {
        return meet_sealed(&api, &saved.name, &sealing, args).await;
    }
    if args.unpin {
        api.empty(Method::DELETE, "/api/v1/bond/meeting", None)
            .await?;
    } else if args.pin.is_some() || args.at.is_some() {
        let pin = PinMeeting {
            place: args.pin,
            lat: args.at.map(|p| p.0),
            lon: args.at.map(|p| p.1),
            name: args.name,
        };
        api.empty(Method::PUT, "/api/v1/bond/meeting", Some(&pin))
            .await?;
    }
    let view: MeetingView = api.get("/api/v1/bond/meeting").await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        outln!("{}", meeting_sentence(&view));
    }
    Ok(())
}

/// Runs `haurach journey`.
pub async fn journey(ctx: Context, args: JourneyArgs) -> anyhow::Result<()> {
    let (_, api) = ctx.session(None)?;
    let mut query = Vec::new();
    if let Some(from) = args.from {
        query.push(format!("from={}", query_value(from)));
    }
    if let Some(to) = args.to {
        query.push(format!("to={}", query_value(to)));
    }
    let path = if query.is_empty() {
        "/api/v1/me/journey.gpx".to_owned()
    } else {
        format!("/api/v1/me/journey.gpx?{}", query.join("&"))
    };
    let gpx = api.get_bytes(&path).await?;
    let n = gpx.windows(6).filter(|w| w == b"<trkpt").count();
    if args.gpx.as_os_str() == "-" {
        use std::io::Write as _;
        std::io::stdout().write_all(&gpx)?;
    } else {
        std::fs::write(&args.gpx, &gpx)
            .with_context(|| format!("cannot write {}", args.gpx.display()))?;
        eprintln!("wrote {n} points of your journey to {}", args.gpx.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_in_paths() {
        assert_eq!(segment("home"), "home");
        assert_eq!(segment("the Needle/2"), "the%20Needle%2F2");
        assert_eq!(segment("café"), "caf%C3%A9");
    }

    #[test]
    fn points_read_as_lat_comma_lon() {
        assert_eq!(parse_point("45.7,-14.3").unwrap(), (45.7, -14.3));
        assert!(parse_point("45.7").is_err());
    }
}
