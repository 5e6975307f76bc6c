//! The web client in a real browser: Debian's Chromium driven through chromedriver, two
//! windows as two partners, the server in-process. Each test asserts what a person sees
//! (text and accessible labels) and saves screenshots under `target/artifacts/browser/`.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (`scripts/test` installs them).

mod a11y;
mod app;
mod city;
mod devices;
mod gate;
mod harness;
mod link;
mod locate;
mod map;
mod memories;
mod pause;
mod pictures;
mod places;
mod private;
mod private_map;
mod private_places;
mod screen;
mod sight;
mod weight;
