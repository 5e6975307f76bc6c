//! Places and the meeting point in a private bond, on this device (issue 20,
//! `docs/privacy.md`, "Sealed places and the meeting point"). The server of a private bond
//! sees no coordinate, so what its plain bond's server does is done here: this person's
//! places are kept on this device only ([`PlaceBook`], in `HOME/private.toml`), arriving
//! and leaving are judged on each of this device's own fixes by the plain bond's rules
//! (`haurach_bond::place`), and the news goes to the partner as a sealed `place` message;
//! pinning the meeting point is a sealed `meeting` message, and each device works out its
//! own way to the point from its own fix and says when it is there
//! (`haurach_bond::meeting::ARRIVAL_RADIUS_M`, the plain bond's rule), telling the partner
//! with a sealed `meeting` message too. What is kept is `super::place_book`'s. What the partner's device sealed is read from the
//! bond's messages, which travel as every sealed message does (stored ciphertext,
//! sequence numbers, exactly once, the replay rule).

use anyhow::Context as _;
use haurach_bond::geo::{self, Fix};
use haurach_bond::meeting::{ARRIVAL_RADIUS_M, eta_s};
use haurach_bond::place::{Place, Transition};
use haurach_bond::{Disclosure, Tier};
use haurach_proto::sealed::{FixContent, MeetingContent, PlaceContent};
use haurach_proto::{
    BondView, LatLon, MeetingKind, MeetingLeg, MeetingView, Message, MessageKind, MessagePage,
    PlaceEvent, SendMessage,
};
use time::OffsetDateTime;

use super::api::Api;
use super::place_book::{HeardPlace, KeptPin, PlaceBook, check_name};
use super::sealed::{Sealing, UNOPENABLE, tiers_of};
use super::show::REPLAYED;

impl Sealing {
    /// Reads the bond's messages this device has not read yet for places and the meeting
    /// point (opened and judged as every sealed message: one the server sends again is
    /// not taken) and keeps what they say. `me` is this device's person; `last_seq` the
    /// newest message the bond's view names, so nothing is asked when none is new.
    pub async fn catch_up(&self, api: &Api, me: &str, last_seq: i64) -> anyhow::Result<PlaceBook> {
        let mut book = self.place_book()?;
        let latest = self.last_fix()?;
        let mut changed = false;
        while book.read_seq < last_seq {
            let page: MessagePage = api
                .get(&format!(
                    "/api/v1/bond/messages?after={}&limit=500",
                    book.read_seq
                ))
                .await?;
            for m in &page.messages {
                book.read_seq = book.read_seq.max(m.seq);
                if m.kind.sealed_only() {
                    self.take(me, m, &mut book, latest.as_ref());
                }
            }
            changed = true;
            if !page.more || page.messages.is_empty() {
                break;
            }
        }
        if changed {
            self.keep_place_book(book.clone())?;
        }
        Ok(book)
    }

    /// What one `place` or `meeting` message says, kept in `book`.
    fn take(&self, me: &str, m: &Message, book: &mut PlaceBook, latest: Option<&Fix>) {
        let mine = m.from.eq_ignore_ascii_case(me);
        let opened = self.open_message(me, m);
        let Some(body) = opened.body.as_deref() else {
            return;
        };
        if body == REPLAYED || body == UNOPENABLE {
            return;
        }
        match m.kind {
            MessageKind::Place if !mine => {
                let Some(news) = PlaceContent::from_bytes(body.as_bytes()) else {
                    return;
                };
                let heard = HeardPlace {
                    name: news.place.clone(),
                    inside: news.event == PlaceEvent::Arrived,
                    at: news.at,
                    position: news.position,
                };
                match book
                    .partner
                    .iter_mut()
                    .find(|p| p.name.to_lowercase() == news.place.to_lowercase())
                {
                    Some(kept) => *kept = heard,
                    None => book.partner.push(heard),
                }
            }
            MessageKind::Meeting => match MeetingContent::from_bytes(body.as_bytes()) {
                Some(MeetingContent::Pinned { lat, lon, name }) => {
                    let target = Place {
                        lat,
                        lon,
                        radius_m: ARRIVAL_RADIUS_M,
                    };
                    book.pin = Some(KeptPin {
                        lat,
                        lon,
                        name,
                        pinned_by: m.from.clone(),
                        // Pinning where one stands is being there, without news.
                        reached_me: latest.is_some_and(|f| target.judge(false, f)),
                        reached_partner: false,
                    });
                }
                Some(MeetingContent::Unpinned) => book.pin = None,
                Some(MeetingContent::Reached) => {
                    if let Some(pin) = &mut book.pin {
                        if mine {
                            pin.reached_me = true;
                        } else {
                            pin.reached_partner = true;
                        }
                    }
                }
                None => {}
            },
            _ => {}
        }
    }

    /// Seals `content` as a `kind` message (a place's news or the meeting point) and sends
    /// it; the message as stored.
    pub async fn send_sealed(
        &self,
        api: &Api,
        kind: MessageKind,
        content: &[u8],
    ) -> anyhow::Result<Message> {
        let message = SendMessage {
            kind,
            id: uuid::Uuid::now_v7().to_string(),
            body: None,
            feeling: None,
            sealed: Some(self.seal(kind.key(), content)?),
        };
        Ok(api.send_message(&message).await?)
    }

    /// After this device sent `fix` (`view`: the bond as it stands after it): judges this
    /// person's places and the pinned point by it, keeps the result, and tells the partner
    /// of each arrival and departure and of reaching the point, sealed. A place's centre
    /// goes with its news only while sight is open. Nothing is judged while this person
    /// pauses sharing, as the plain bond's server judges no paused fix. The lines to
    /// print.
    pub async fn judge_fix(
        &self,
        api: &Api,
        me: &str,
        fix: &Fix,
        view: &BondView,
    ) -> anyhow::Result<Vec<String>> {
        let mut book = self.catch_up(api, me, view.last_seq).await?;
        if book.mine.is_empty() && book.pin.is_none() {
            return Ok(Vec::new());
        }
        let pause: haurach_proto::PauseView = api.get("/api/v1/me/pause").await?;
        if pause.paused {
            return Ok(Vec::new());
        }
        let changes = book.judge(fix);
        let reached = book.judge_pin(fix);
        // Written down before anything is sent: a crash between repeats no news, as the
        // plain bond's server commits before it announces.
        self.keep_place_book(book.clone())?;
        let sight = tiers_of(view).is_open(Tier::Sight);
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(fix.at_ms) * 1_000_000)
            .unwrap_or_else(|_| OffsetDateTime::now_utc());
        let mut lines = Vec::new();
        for (name, t) in changes {
            let place = book.own(&name).context("a place judged is kept")?;
            let content = PlaceContent {
                place: name.clone(),
                event: match t {
                    Transition::Arrived => PlaceEvent::Arrived,
                    Transition::Left => PlaceEvent::Left,
                },
                at,
                position: sight.then_some(LatLon {
                    lat: place.lat,
                    lon: place.lon,
                }),
            };
            self.send_sealed(api, MessageKind::Place, &content.to_bytes())
                .await?;
            lines.push(match t {
                Transition::Arrived => format!("you arrived at {name}"),
                Transition::Left => format!("you left {name}"),
            });
        }
        if reached {
            self.send_sealed(
                api,
                MessageKind::Meeting,
                &MeetingContent::Reached.to_bytes(),
            )
            .await?;
            lines.push("you reached the meeting point".to_owned());
        }
        Ok(lines)
    }

    /// Pins the meeting point (`Some`) or unpins it, sealed for the partner; the book
    /// after it.
    pub async fn pin(
        &self,
        api: &Api,
        me: &str,
        pin: Option<(f64, f64, Option<String>)>,
    ) -> anyhow::Result<PlaceBook> {
        let content = match pin {
            Some((lat, lon, name)) => {
                if !geo::valid_coordinates(lat, lon) {
                    anyhow::bail!(
                        "lat must be in [-90, 90] and lon in [-180, 180]; got lat {lat} lon {lon}"
                    );
                }
                if let Some(n) = &name {
                    check_name(n)?;
                }
                MeetingContent::Pinned { lat, lon, name }
            }
            None => MeetingContent::Unpinned,
        };
        let sent = self
            .send_sealed(api, MessageKind::Meeting, &content.to_bytes())
            .await?;
        self.catch_up(api, me, sent.seq).await
    }

    /// The meeting point as `haurach meet` shows it, worked out here: this device's own
    /// way to the pin from its latest fix (exact: the pin was shared on purpose), and the
    /// partner's from their sealed position (coarse unless it is exact and sight is open,
    /// as the plain bond's server shows a partner's). `None` without a pin or a fix.
    pub fn meeting(
        &self,
        book: &PlaceBook,
        view: &BondView,
    ) -> anyhow::Result<Option<MeetingView>> {
        let (Some(pin), Some(me)) = (&book.pin, self.last_fix()?) else {
            return Ok(None);
        };
        let mine = geo::inverse(me.lat, me.lon, pin.lat, pin.lon);
        let you = MeetingLeg {
            distance_m: mine.distance_m,
            bearing_deg: Some(mine.bearing_deg),
            eta_s: eta_s(mine.distance_m, None),
            arrived: pin.reached_me,
        };
        let sight = tiers_of(view).is_open(Tier::Sight);
        let partner_fix: Option<FixContent> = self.partner_fix(view);
        let shown = Disclosure::from_sight(sight && partner_fix.is_some_and(|p| p.exact));
        let partner = partner_fix.map(|p| {
            let theirs = geo::inverse(p.lat, p.lon, pin.lat, pin.lon);
            MeetingLeg {
                distance_m: shown.distance_m(theirs.distance_m),
                bearing_deg: None,
                eta_s: shown.duration_s(eta_s(theirs.distance_m, None)),
                arrived: pin.reached_partner,
            }
        });
        Ok(Some(MeetingView {
            kind: MeetingKind::Pinned,
            name: pin.name.clone(),
            pinned_by: Some(pin.pinned_by.clone()),
            position: Some(LatLon {
                lat: pin.lat,
                lon: pin.lon,
            }),
            by_speed: false,
            exact: shown.is_exact(),
            you,
            partner,
        }))
    }
}
