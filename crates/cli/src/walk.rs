//! `haurach walk`: moves a simulated position along a track (a straight walk, a GPX file,
//! or one partner's side of a scenario), sending each step to the server in (scaled)
//! real time, and says when tiers of the bond open or close on the way. On a private
//! bond each step is a token report and a sealed position instead of a position.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use clap::{ArgGroup, Args};
use haurach_bond::Tier;
use haurach_proto::{BondView, PositionUpdate, human};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use tokio::time::Instant;

use crate::client::api::{Api, ApiError};
use crate::client::sealed::Sealing;
use crate::client::show;
use crate::scenario::Scenario;
use crate::track::Track;

/// While resting, a walker still says where it is this often (real seconds), so its
/// partner does not lose contact.
const KEEPALIVE_S: f64 = 20.0;
/// Attempts to send one position over a flaky network.
const PUT_ATTEMPTS: u32 = 4;

/// A point typed as `LAT,LON`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLonArg(pub f64, pub f64);

impl FromStr for LatLonArg {
    type Err = String;

    fn from_str(s: &str) -> Result<LatLonArg, String> {
        let bad = || format!("{s:?} is not a place: write LAT,LON, e.g. 23.12,53.66");
        let (lat, lon) = s.split_once(',').ok_or_else(bad)?;
        let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
        let lon: f64 = lon.trim().parse().map_err(|_| bad())?;
        if !haurach_bond::geo::valid_coordinates(lat, lon) {
            return Err(format!(
                "lat must be in [-90, 90] and lon in [-180, 180]; got lat {lat} lon {lon}"
            ));
        }
        Ok(LatLonArg(lat, lon))
    }
}

/// How to walk.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("route").required(true).args(["from", "gpx", "scenario"])))]
pub struct WalkArgs {
    /// Start here (with --to): LAT,LON.
    #[arg(
        long,
        value_name = "LAT,LON",
        allow_hyphen_values = true,
        requires = "to"
    )]
    from: Option<LatLonArg>,
    /// Walk to here along the geodesic: LAT,LON.
    #[arg(
        long,
        value_name = "LAT,LON",
        allow_hyphen_values = true,
        requires = "from"
    )]
    to: Option<LatLonArg>,
    /// Walking speed for --from/--to, and for GPX points without times.
    #[arg(long, value_name = "KMH", default_value_t = 5.0)]
    speed: f64,
    /// Replay the points of a GPX file with the file's own timing.
    #[arg(long, value_name = "FILE")]
    gpx: Option<PathBuf>,
    /// Walk one partner's side of a scenario file (with --who).
    #[arg(long, value_name = "FILE", requires = "who")]
    scenario: Option<PathBuf>,
    /// Which partner of the scenario to walk.
    #[arg(long, value_name = "NAME")]
    pub who: Option<String>,
    /// Run this many times faster than real time.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    speedup: f64,
    /// Send a position every this many metres [default: 20; for GPX: each point].
    #[arg(long, value_name = "M")]
    step_m: Option<f64>,
    /// The accuracy to report with each position, metres.
    #[arg(long, value_name = "M")]
    accuracy: Option<f64>,
}

impl WalkArgs {
    /// The scenario partner this walk acts as, if it walks a scenario, as the scenario
    /// spells the name. The scenario is read and checked here, so a mistake in it is
    /// reported before anything else.
    pub fn scenario_partner(&self) -> anyhow::Result<Option<String>> {
        let (Some(path), Some(who)) = (&self.scenario, &self.who) else {
            return Ok(None);
        };
        Ok(Some(Scenario::load(path)?.partner(who)?.name.clone()))
    }
}

/// Walks as the citizen of `api`; with `sealing`, on their private bond.
pub async fn run(api: &Api, args: &WalkArgs, sealing: Option<&Sealing>) -> anyhow::Result<()> {
    if !(args.speedup.is_finite() && args.speedup > 0.0) {
        anyhow::bail!("--speedup must be a positive number, not {}", args.speedup);
    }
    let (track, step_m, what) = if let (Some(from), Some(to)) = (args.from, args.to) {
        let track = Track::straight((from.0, from.1), (to.0, to.1), args.speed)?;
        (track, Some(args.step_m.unwrap_or(20.0)), String::new())
    } else if let Some(path) = &args.gpx {
        let xml = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let points = crate::gpx::parse(&xml)
            .with_context(|| format!("{} is not usable GPX", path.display()))?;
        let track = crate::gpx::track(&points, args.speed)
            .with_context(|| format!("{} is not usable GPX", path.display()))?;
        (track, args.step_m, format!(" along {}", path.display()))
    } else if let (Some(path), Some(who)) = (&args.scenario, &args.who) {
        let scenario = Scenario::load(path)?;
        let partner = scenario.partner(who)?;
        let track = partner.track()?;
        (
            track,
            Some(args.step_m.unwrap_or(20.0)),
            format!(" as {} in {}", partner.name, scenario.title),
        )
    } else {
        anyhow::bail!("say where to walk: --from and --to, --gpx, or --scenario with --who");
    };
    walk(
        api,
        &track,
        step_m,
        args.speedup,
        args.accuracy,
        &what,
        sealing,
    )
    .await
}

async fn walk(
    api: &Api,
    track: &Track,
    step_m: Option<f64>,
    speedup: f64,
    accuracy_m: Option<f64>,
    what: &str,
    sealing: Option<&Sealing>,
) -> anyhow::Result<()> {
    let samples = track.samples(step_m, KEEPALIVE_S * speedup)?;
    let total_m = track.length_m();
    let mut bond = bond_of(api).await?;

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total_m.ceil() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {prefix} {wide_msg}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));

    let started = Instant::now();
    let t0 = samples[0].t_s;
    for sample in &samples {
        let due = started + Duration::from_secs_f64(((sample.t_s - t0) / speedup).max(0.0));
        tokio::time::sleep_until(due).await;
        let sent = match sealing {
            Some(sealing) => {
                let fix = haurach_bond::Fix {
                    lat: sample.lat,
                    lon: sample.lon,
                    accuracy_m: accuracy_m.unwrap_or(0.0),
                    at_ms: (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
                        as i64,
                };
                let sent = sealing.send_fix(api, &fix).await?;
                if let Some(s) = sent.stretch {
                    // Judged here; the partner's device is told it sealed.
                    bar.suspend(|| outln!("{}", show::stretch("you", s.jump_m, s.speed_kmh())));
                }
                for line in sent.news {
                    bar.suspend(|| outln!("{line}"));
                }
                Some(sent.view)
            }
            None => {
                put_position(
                    api,
                    &PositionUpdate {
                        lat: sample.lat,
                        lon: sample.lon,
                        accuracy_m,
                        at: None,
                        by_hand: false,
                        battery: None,
                    },
                )
                .await?;
                None
            }
        };
        bar.set_position(sample.walked_m.round() as u64);
        bar.set_prefix(format!(
            "{} of {}",
            human::distance(sample.walked_m),
            human::distance(total_m)
        ));
        if let Some(before) = &bond {
            // A private bond's view came back with the sealed position, its pull worked
            // out on this device.
            let now = match sent {
                Some(view) => Some(view),
                None => bond_of(api).await?,
            };
            match &now {
                Some(view) => {
                    for line in tier_changes(before, view) {
                        bar.suspend(|| outln!("{line}"));
                    }
                    bar.set_message(show::bond_sentence(view));
                }
                None => bar.suspend(|| outln!("the bond was ended")),
            }
            bond = now;
        }
    }
    bar.finish_and_clear();
    let span_s = track.end_s() - track.start_s();
    let mut summary = format!(
        "walked {}{what} in {}",
        human::distance(total_m),
        human::duration_ms((span_s * 1000.0) as i64)
    );
    if speedup != 1.0 {
        summary.push_str(&format!(
            " (×{speedup}: {} of real time)",
            human::duration_ms(started.elapsed().as_millis() as i64)
        ));
    }
    outln!("{summary}");
    if let Some(view) = &bond {
        outln!("{}", show::bond_sentence(view));
    }
    Ok(())
}

/// The bond, or `None` when unbonded.
pub async fn bond_of(api: &Api) -> anyhow::Result<Option<BondView>> {
    match api.get::<BondView>("/api/v1/bond").await {
        Ok(view) => Ok(Some(view)),
        Err(e) if e.code() == Some("not_bonded") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Sends a position, again on a network error (a position is safe to repeat).
pub async fn put_position(api: &Api, update: &PositionUpdate) -> Result<(), ApiError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match api
            .empty(Method::PUT, "/api/v1/me/position", Some(update))
            .await
        {
            Err(e @ ApiError::Network { .. }) if attempt < PUT_ATTEMPTS => {
                eprintln!("{e}; sending the position again");
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
            }
            res => return res,
        }
    }
}

/// What opened and closed between two views of a bond, as lines.
pub fn tier_changes(before: &BondView, after: &BondView) -> Vec<String> {
    let open = |v: &BondView| -> BTreeMap<Tier, bool> {
        v.tiers.iter().map(|(t, view)| (*t, view.open)).collect()
    };
    let (was, now) = (open(before), open(after));
    let distance = after
        .pull
        .map(|p| format!(", {} apart", human::distance(p.distance_m)))
        .unwrap_or_default();
    Tier::ALL
        .into_iter()
        .filter_map(|tier| {
            let (a, b) = (was.get(&tier).copied()?, now.get(&tier).copied()?);
            let range = after.tiers.get(&tier).and_then(|t| t.range_m);
            match (a, b) {
                (false, true) => Some(format!(
                    "{} opened ({}{distance})",
                    tier.key(),
                    show::range(range)
                )),
                (true, false) => Some(format!("{} closed{distance}", tier.key())),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_typed_lat_comma_lon() {
        assert_eq!(
            "-33.9, 18.4".parse::<LatLonArg>(),
            Ok(LatLonArg(-33.9, 18.4))
        );
        assert!("33.9".parse::<LatLonArg>().is_err());
        let err = "91,0".parse::<LatLonArg>().unwrap_err();
        assert!(err.contains("lat must be in [-90, 90]"), "{err}");
    }
}
