//! `haurach pause [DURATION]` and `haurach resume`: pausing one's sharing, and how a
//! pause reads to people.

use std::time::Duration;

use haurach_proto::{PauseRequest, PauseView, human};
use reqwest::Method;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::api::Api;

/// Reads a duration such as `2h`, `90m`, `1h30m`, `45s` or `1d`.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let bad =
        || anyhow::anyhow!("{text:?} is not a duration: write it like 2h, 90m, 1h30m, 45s or 1d");
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// When a pause ends, as people read it: the minute (UTC) and how long from now, to the
/// nearest minute.
pub fn until_text(until: OffsetDateTime) -> String {
    let left_ms = (until - OffsetDateTime::now_utc())
        .whole_milliseconds()
        .max(0) as i64;
    let minute = until
        .replace_second(0)
        .unwrap_or(until)
        .replace_nanosecond(0);
    let stamp = minute.unwrap_or(until).format(&Rfc3339).unwrap_or_default();
    format!(
        "until {stamp} (in {})",
        human::duration_ms((left_ms + 30_000) / 60_000 * 60_000)
    )
}

/// `haurach pause [DURATION]`: pauses sharing for `duration`, or until resumed.
pub async fn pause(api: &Api, duration: Option<&str>) -> anyhow::Result<String> {
    let until = match duration {
        Some(text) => Some(OffsetDateTime::now_utc() + parse_duration(text)?),
        None => None,
    };
    let view: PauseView = api
        .json(
            Method::PUT,
            "/api/v1/me/pause",
            Some(&PauseRequest { until }),
        )
        .await?;
    Ok(match view.until {
        Some(until) => format!(
            "sharing paused {}: your positions stay with you, your partner sees that you paused",
            until_text(until)
        ),
        None => "sharing paused until you resume (haurach resume): your positions stay with you, your partner sees that you paused".to_owned(),
    })
}

/// `haurach resume`: shares again.
pub async fn resume(api: &Api) -> anyhow::Result<String> {
    let was: PauseView = api.get("/api/v1/me/pause").await?;
    api.empty(Method::DELETE, "/api/v1/me/pause", None).await?;
    Ok(if was.paused {
        "sharing again: your partner is told, and your next position moves the pull".to_owned()
    } else {
        "you were not paused: sharing as before".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("45s").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        for bad in ["", "2", "h", "2x", "0m", "-1h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
