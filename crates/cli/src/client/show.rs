//! The bond and the link's frames as a person reads them: "amethyst is east-north-east,
//! 17 km away (strength 0.03); voice opens in 300 m".

use haurach_bond::Tier;
use haurach_bond::geo::compass_point;
use haurach_proto::human;
use haurach_proto::sealed::{MeetingContent, PlaceContent};
use haurach_proto::{BondView, ContactState, Message, MessageKind, NextTier, PlaceEvent, PullView};

/// A stretch, as `watch` tells it of either partner (`who` is "you" or the partner's
/// name): the plain bond's `stretch` frame and a private bond's stretch sealed in a
/// position read alike.
pub fn stretch(who: &str, jump_m: f64, speed_kmh: f64) -> String {
    format!(
        "the bond stretched: {who} jumped {} (as fast as {speed_kmh:.0} km/h)",
        human::distance(jump_m)
    )
}

/// Where the partner is, in one sentence.
/// The pull sentence for a whole bond view.
pub fn bond_sentence(view: &BondView) -> String {
    if view.partner_pause.paused {
        let until = match view.partner_pause.until {
            Some(until) => super::pause::until_text(until),
            None => "until they resume".to_owned(),
        };
        return format!("{} paused sharing {until}: no pull meanwhile", view.partner);
    }
    pull_sentence(
        &view.partner,
        view.pull.as_ref(),
        view.strength,
        view.next_tier.as_ref(),
    )
}

pub fn pull_sentence(
    partner: &str,
    pull: Option<&PullView>,
    strength: f64,
    next: Option<&NextTier>,
) -> String {
    let Some(pull) = pull else {
        return format!(
            "{partner}: where you both are is not known yet (each of you sends a position with `haurach move LAT LON`)"
        );
    };
    let mut out = if pull.distance_m < 1.0 {
        format!("{partner} is right here (strength {strength:.2})")
    } else {
        format!(
            "{partner} is {}, {} away (strength {strength:.2})",
            compass_point(pull.bearing_deg),
            human::distance(pull.distance_m)
        )
    };
    if let Some(p) = pull.position {
        out.push_str(&format!(" at {:.5}, {:.5}", p.lat, p.lon));
    }
    if pull.by_hand {
        out.push_str(", set by hand");
    }
    if let Some(next) = next {
        out.push_str(&format!(
            "; {} opens in {}",
            next.tier.key(),
            human::distance(next.opens_in_m)
        ));
    }
    out
}

/// How fresh the partner's latest fix is and their battery ("last seen 3 s ago, battery
/// 80 %"), when the server says (only while the feelings tier is open).
pub fn vitals(pull: &PullView) -> Option<String> {
    let seen = pull.seen_at.map(|at| {
        let ms = (time::OffsetDateTime::now_utc() - at).whole_milliseconds();
        format!("last seen {} ago", human::duration_ms((ms as i64).max(0)))
    });
    let battery = pull.battery.map(|b| format!("battery {b} %"));
    let parts: Vec<String> = [seen, battery].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The partner's answer to "where are you now?": the pull, and how fresh it is while
/// the feelings tier is open ("spike answered: east, 14 km away (strength 0.05); last
/// seen 2 s ago, battery 80 %").
pub fn answer_sentence(
    partner: &str,
    pull: &PullView,
    strength: f64,
    next: Option<&NextTier>,
) -> String {
    let line = pull_sentence(partner, Some(pull), strength, next);
    let line = line.strip_prefix(partner).unwrap_or(&line).trim_start();
    let line = line.strip_prefix("is ").unwrap_or(line);
    match vitals(pull) {
        Some(vitals) => format!("{partner} answered: {line}; {vitals}"),
        None => format!("{partner} answered: {line}"),
    }
}

/// A tier's range as a person says it.
pub fn range(range_m: Option<f64>) -> String {
    match range_m {
        Some(r) => format!("within {}", human::distance(r)),
        None => "at any range".to_owned(),
    }
}

/// The whole bond, as `haurach where` prints it.
pub fn bond(view: &BondView) -> String {
    let mut out = bond_sentence(view);
    out.push('\n');
    for tier in Tier::ALL {
        let Some(t) = view.tiers.get(&tier) else {
            continue;
        };
        let (mark, state) = if t.open {
            ("✓", "open  ")
        } else {
            ("·", "closed")
        };
        out.push_str(&format!(
            "  {mark} {:<9} {state}  {}\n",
            tier.key(),
            range(t.range_m)
        ));
    }
    let contact = match view.contact {
        ContactState::Live => "contact: live".to_owned(),
        ContactState::Lost => format!("contact: lost (nothing heard from {} lately)", view.partner),
    };
    out.push_str(&contact);
    out.push_str(&format!(
        "; {} profile; bonded since {}",
        view.profile.key(),
        date(view.since)
    ));
    if let Some(vitals) = view.pull.as_ref().and_then(vitals) {
        out.push_str(&format!("\n{}: {vitals}", view.partner));
    }
    if view.partner_guarded {
        out.push_str(&format!("\n{} is guarding their thoughts", view.partner));
    }
    for alarm in &view.alarms {
        out.push('\n');
        out.push_str(&format!("raised alarm #{} from {}", alarm.seq, alarm.from));
        if let Some(body) = &alarm.body {
            out.push_str(&format!(": {body:?}"));
        }
        if alarm.from != view.partner {
            out.push_str(" (waiting for your partner to acknowledge it)");
        } else {
            out.push_str(&format!(" (acknowledge it: haurach ack {})", alarm.seq));
        }
    }
    out
}

/// What is shown in place of sealed content of the partner's that this device opened
/// before at another place: the server sent it again (`sealed::Sealing::open_message`).
pub const REPLAYED: &str = "(the server sent this again: it was opened before, as an earlier \
     message, so it is not shown)";

/// A stored message as one line; `me` is the reader's name.
pub fn message(me: &str, m: &Message) -> String {
    let mine = m.from.eq_ignore_ascii_case(me);
    let who = if mine { "you" } else { m.from.as_str() };
    if m.body.as_deref() == Some(REPLAYED) {
        let what = match m.kind {
            MessageKind::Voice => "words",
            MessageKind::Feeling => "feeling",
            MessageKind::Image => "picture",
            MessageKind::Alarm => "alarm",
            MessageKind::Place => "place news",
            MessageKind::Meeting => "meeting point",
        };
        return format!(
            "#{} {} the server sent {who}'s earlier sealed {what} again, so this is not shown",
            m.seq,
            clock(m.sent_at)
        );
    }
    let text = match m.kind {
        MessageKind::Place => place_news(who, m.body.as_deref().unwrap_or("")),
        MessageKind::Meeting => meeting_news(mine, who, m.body.as_deref().unwrap_or("")),
        MessageKind::Voice => format!("{who}: {}", m.body.as_deref().unwrap_or("")),
        MessageKind::Feeling => {
            let feeling = m.feeling.map_or("something", |f| f.key());
            if mine {
                format!("you feel {feeling}")
            } else {
                format!("{who} feels {feeling}")
            }
        }
        MessageKind::Image => {
            let id = m.body.as_deref().unwrap_or("");
            if mine {
                format!("you sent a picture ({id})")
            } else {
                format!("{who} sent a picture: haurach picture {id}")
            }
        }
        MessageKind::Alarm => {
            let mut line = format!("ALARM from {who}");
            if let Some(body) = m.body.as_deref().filter(|b| !b.is_empty()) {
                line.push_str(&format!(": {body}"));
            }
            if m.acknowledged_at.is_some() {
                line.push_str(" (acknowledged)");
            } else if !mine {
                line.push_str(&format!(" (acknowledge it: haurach ack {})", m.seq));
            }
            line
        }
    };
    format!("#{} {} {text}", m.seq, clock(m.sent_at))
}

/// A private bond's sealed place news, opened into `body` (its JSON), as the plain bond's
/// `place` frame reads: "amethyst arrived at home"; what does not open says so.
fn place_news(who: &str, body: &str) -> String {
    let Some(news) = PlaceContent::from_bytes(body.as_bytes()) else {
        return format!("{who}'s place news: {body}");
    };
    let at = news
        .position
        .map(|p| format!(" ({:.5}, {:.5})", p.lat, p.lon))
        .unwrap_or_default();
    match news.event {
        PlaceEvent::Arrived => format!("{who} arrived at {}{at}", news.place),
        PlaceEvent::Left => format!("{who} left {}{at}", news.place),
    }
}

/// A private bond's sealed meeting point, opened into `body` (its JSON).
fn meeting_news(mine: bool, who: &str, body: &str) -> String {
    match MeetingContent::from_bytes(body.as_bytes()) {
        Some(MeetingContent::Pinned { lat, lon, name }) => {
            let name = name.map(|n| format!("{n} ")).unwrap_or_default();
            format!("{who} pinned the meeting point: {name}({lat:.5}, {lon:.5})")
        }
        Some(MeetingContent::Unpinned) => format!("{who} unpinned the meeting point"),
        Some(MeetingContent::Reached) if mine => "you reached the meeting point".to_owned(),
        Some(MeetingContent::Reached) => format!("{who} reached the meeting point"),
        None => format!("{who}'s meeting point: {body}"),
    }
}

/// `HH:MM` in UTC.
fn clock(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// `YYYY-MM-DD HH:MM UTC`.
pub fn date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use haurach_proto::LatLon;

    #[test]
    fn the_pull_reads_as_a_sentence() {
        let pull = PullView {
            bearing_deg: 65.0,
            distance_m: 17_000.0,
            exact: false,
            position: None,
            by_hand: false,
            seen_at: None,
            battery: None,
        };
        let next = NextTier {
            tier: Tier::Voice,
            opens_in_m: 300.0,
        };
        assert_eq!(
            pull_sentence("amethyst", Some(&pull), 0.0313, Some(&next)),
            "amethyst is east-north-east, 17 km away (strength 0.03); voice opens in 300 m"
        );
        let near = PullView {
            bearing_deg: 180.0,
            distance_m: 850.0,
            exact: true,
            position: Some(LatLon {
                lat: 23.1,
                lon: 53.8,
            }),
            by_hand: true,
            seen_at: None,
            battery: None,
        };
        assert_eq!(
            pull_sentence("spike", Some(&near), 0.5, None),
            "spike is south, 850 m away (strength 0.50) at 23.10000, 53.80000, set by hand"
        );
        assert!(pull_sentence("spike", None, 0.0, None).contains("not known yet"));
    }
}
