//! Integration tests of the server, in one binary: the HTTP contract through the router,
//! and the live link over a real socket.

mod api;
mod city;
mod common;
mod images;
mod layers;
mod limits;
mod link;
mod memories;
mod outage;
mod owntracks;
mod places;
mod restart;
mod sight;
