//! The map's tile source (`map_tiles`): a URL template the web client fills with `{z}`,
//! `{x}` and `{y}`, and the one origin the page's Content-Security-Policy lets it load
//! images from. The origin must be fixed, so a template whose scheme or host holds a
//! placeholder (`https://{s}.tile.example/...`) is refused: allowing it would mean a
//! wildcard in the policy.

/// OpenStreetMap's standard tiles, the default.
pub const OPENSTREETMAP: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";

/// The credit OpenStreetMap's tiles ask for.
pub const OPENSTREETMAP_ATTRIBUTION: &str = "© OpenStreetMap contributors";

/// The origin (`https://host[:port]`) a tile template loads from; `None` for an empty
/// template (no map). An error says why a template is unusable.
pub fn origin(template: &str) -> Result<Option<String>, String> {
    if template.is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| format!("map_tiles {template:?}: {why}");
    let Some((scheme, rest)) = template.split_once("://") else {
        return Err(bad("must be an http:// or https:// URL"));
    };
    if scheme != "https" && scheme != "http" {
        return Err(bad("must be an http:// or https:// URL"));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host_ok = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !host_ok {
        return Err(bad(
            "its host must be written out (no placeholder such as {s}, no user or password)",
        ));
    }
    for placeholder in ["{z}", "{x}", "{y}"] {
        if !path.contains(placeholder) {
            return Err(bad("must hold {z}, {x} and {y}"));
        }
    }
    // The template is written into the page and the policy: nothing that ends either.
    if template.chars().any(|c| {
        c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | ';' | ',' | '<' | '>')
    }) {
        return Err(bad("holds a character a URL does not"));
    }
    Ok(Some(format!(
        "{scheme}://{}",
        authority.to_ascii_lowercase()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_the_scheme_and_host_of_the_template() {
        assert_eq!(
            origin(OPENSTREETMAP).unwrap().as_deref(),
            Some("https://tile.openstreetmap.org")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png")
                .unwrap()
                .as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("").unwrap(), None);
    }

    #[test]
    fn a_template_that_would_widen_the_policy_is_refused() {
        for bad in [
            "https://{s}.tile.example/{z}/{x}/{y}.png",
            "https://*.example/{z}/{x}/{y}.png",
            "ftp://tiles.example/{z}/{x}/{y}.png",
            "tiles.example/{z}/{x}/{y}.png",
            "https://tiles.example/{z}/{x}.png",
            "https://user:pw@tiles.example/{z}/{x}/{y}.png",
            "https://tiles.example/{z}/{x}/{y}.png https://evil.example",
            "https://tiles.example/{z}/{x}/{y}.png;script-src *",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }
}
