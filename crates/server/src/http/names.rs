//! What a citizen's name may be: 1 to 32 letters, digits, `-`, `_` or `.`, unique in
//! any case.

use crate::error::ApiError;

/// 422 unless `name` is one a citizen may have.
pub(crate) fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "invalid_name",
            "a name is 1 to 32 letters, digits, '-', '_' or '.'",
        ))
    }
}

/// The problem for a name someone has already.
pub(crate) fn name_taken(name: &str) -> ApiError {
    ApiError::conflict("name_taken", format!("the name {name:?} is taken"))
}
