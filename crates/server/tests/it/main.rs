//! Integration tests of the server, in one binary: the HTTP contract through the router,
//! the live link over a real socket, and the hub's time-based behaviour on a paused clock
//! (`clock.rs`).

mod api;
mod authz;
mod city;
mod clock;
mod common;
mod devices;
mod images;
mod layers;
mod limits;
mod link;
mod locate;
mod memories;
mod metrics;
mod nodes;
mod outage;
mod owntracks;
mod packaging;
mod pause;
mod places;
mod private;
mod push;
mod restart;
mod sealed_pictures;
mod sight;
mod throttles;
