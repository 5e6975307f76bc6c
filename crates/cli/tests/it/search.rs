//! Searching what a server kept, its whole data directory and its log, for what must
//! never have reached it in the clear (issue 20's private bond): coordinates as text and
//! as binary floats, words, secrets. Shared by the private bond's tests (`private.rs`)
//! and the story walked privately (`replay.rs`).

use std::collections::HashMap;
use std::path::Path;

/// Every file under `dir`, as bytes, with its path.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    found
}

/// A trace to look for: text, which counts only where it starts a number (`7.654` in
/// `lon=7.654` is a coordinate, in the timestamp `19:10:07.654` it is not), or bytes,
/// which count anywhere.
pub enum Trace {
    Text(String),
    Bytes(Vec<u8>),
}

impl Trace {
    fn needle(&self) -> &[u8] {
        match self {
            Trace::Text(text) => text.as_bytes(),
            Trace::Bytes(bytes) => bytes,
        }
    }

    /// Whether its needle, found in `haystack` at `at`, counts there.
    fn counts_at(&self, haystack: &[u8], at: usize) -> bool {
        match self {
            Trace::Text(_) => at == 0 || !haystack[at - 1].is_ascii_digit(),
            Trace::Bytes(_) => true,
        }
    }

    pub fn shown(&self) -> String {
        match self {
            Trace::Text(text) => text.clone(),
            Trace::Bytes(bytes) => format!("{bytes:?}"),
        }
    }
}

/// The first of `traces` found in `haystack`, if any, with the bytes around it. Each
/// length of needle is looked for in one pass over the haystack (a hash of every
/// window), so thousands of needles cost no more than a few passes.
pub fn first_found<'a>(traces: &'a [Trace], haystack: &[u8]) -> Option<(&'a Trace, String)> {
    let mut by_len: HashMap<usize, HashMap<&[u8], Vec<&Trace>>> = HashMap::new();
    for trace in traces {
        let needle = trace.needle();
        if !needle.is_empty() {
            by_len
                .entry(needle.len())
                .or_default()
                .entry(needle)
                .or_default()
                .push(trace);
        }
    }
    for (len, needles) in &by_len {
        for (at, window) in haystack.windows(*len).enumerate() {
            if let Some(found) = needles.get(window)
                && let Some(trace) = found.iter().find(|t| t.counts_at(haystack, at))
            {
                let around = &haystack[at.saturating_sub(60)..(at + len + 60).min(haystack.len())];
                return Some((trace, String::from_utf8_lossy(around).into_owned()));
            }
        }
    }
    None
}

/// What a coordinate may look like where it was written down: as text at several
/// precisions, and as the bytes of an `f64` either way round.
pub fn traces_of(value: f64) -> Vec<Trace> {
    let mut traces: Vec<Trace> = [
        format!("{value}"),
        format!("{value:.6}"),
        format!("{value:.5}"),
        format!("{value:.4}"),
        format!("{value:.3}"),
    ]
    .into_iter()
    .map(Trace::Text)
    .collect();
    traces.push(Trace::Bytes(value.to_le_bytes().to_vec()));
    traces.push(Trace::Bytes(value.to_be_bytes().to_vec()));
    traces
}

/// A coordinate as the bytes of an `f32` either way round (four bytes: for a few
/// coordinates only, since thousands of four-byte needles would meet by chance in
/// megabytes of a database).
pub fn f32_traces_of(value: f64) -> Vec<Trace> {
    let single = value as f32;
    vec![
        Trace::Bytes(single.to_le_bytes().to_vec()),
        Trace::Bytes(single.to_be_bytes().to_vec()),
    ]
}
