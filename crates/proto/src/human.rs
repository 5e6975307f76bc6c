//! Numbers as a person reads them, shared by the server's messages and the clients.

/// A distance as a person says it: "8 m", "750 m", "1.2 km", "17 km", "1,200 km".
pub fn distance(m: f64) -> String {
    if !m.is_finite() {
        return "an unknown distance".to_owned();
    }
    let m = m.max(0.0);
    if m < 1000.0 {
        // Below 100 m, a metre matters; above, tens of metres are enough.
        let rounded = if m < 100.0 {
            m.round()
        } else {
            (m / 10.0).round() * 10.0
        };
        if rounded < 1000.0 {
            return format!("{rounded:.0} m");
        }
    }
    let km = m / 1000.0;
    if km < 10.0 {
        format!("{km:.1} km")
    } else {
        group_thousands(km.round() as u64) + " km"
    }
}

/// A duration as a person says it: "12 s", "3 min", "1 h 5 min", "2 days".
pub fn duration_ms(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => {
            let (h, m) = (s / 3600, (s % 3600) / 60);
            if m == 0 {
                format!("{h} h")
            } else {
                format!("{h} h {m} min")
            }
        }
        _ => {
            let d = s / 86_400;
            if d == 1 {
                "1 day".to_owned()
            } else {
                format!("{d} days")
            }
        }
    }
}

/// Bytes as people read them: `25 MiB`, `300 KiB`, `12 bytes`.
pub fn bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;
    let unit = |size: u64, name: &str| {
        let v = n as f64 / size as f64;
        if v >= 10.0 || n.is_multiple_of(size) {
            format!("{:.0} {name}", v)
        } else {
            format!("{v:.1} {name}")
        }
    };
    match n {
        n if n >= GIB => unit(GIB, "GiB"),
        n if n >= MIB => unit(MIB, "MiB"),
        n if n >= KIB => unit(KIB, "KiB"),
        n => format!("{n} bytes"),
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_read_naturally() {
        assert_eq!(distance(7.6), "8 m");
        assert_eq!(distance(754.0), "750 m");
        assert_eq!(distance(996.0), "1.0 km");
        assert_eq!(distance(1234.0), "1.2 km");
        assert_eq!(distance(17_000.0), "17 km");
        assert_eq!(distance(1_234_567.0), "1,235 km");
        assert_eq!(distance(f64::NAN), "an unknown distance");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_ms(12_400), "12 s");
        assert_eq!(duration_ms(185_000), "3 min");
        assert_eq!(duration_ms(3_900_000), "1 h 5 min");
        assert_eq!(duration_ms(2 * 86_400_000), "2 days");
    }
}
