//! The run-time layer: the bonds and the city as they live in one node, between the HTTP
//! layer above and the store and the bus below. Nothing here knows HTTP: handlers and
//! the live link call the [`Hub`], which checks, commits to the store first and then
//! publishes on the bus.
//!
//! The files, from the bottom up (each imports only files listed before it):
//! - state the hub holds: [`needle`] (the meeting point's state in a bond), [`bond`] (one
//!   bond's live state and what each partner may see of the pull), [`place_cache`],
//!   [`relay`] (camera frames between links), [`pictures`] (where pictures are kept),
//!   [`push`] (pushing news to a person's devices), [`pause_book`] (who has paused
//!   sharing), [`summons`] (summoning, and the
//!   tracker that follows accepted summonses), and the
//!   group-commit writers [`position_writer`] and [`message_writer`];
//! - [`hub`]: the [`Hub`] itself and what every feature builds on;
//! - the hub's methods by feature: [`messages`], [`bonding`], [`places`], [`meeting`],
//!   [`images`] (pictures between partners), [`memories`] (the journals),
//!   [`sight`], [`trace`], [`owntracks`], [`locate`] ("where are you now?" and the
//!   battery), [`removal`] (a person removed with all they
//!   own), [`pausing`] (pausing one's sharing), [`private`] (a private bond: its invite
//!   and keys, and its tiers from token reports), and [`fixes`] (a fix arrives; what
//!   other nodes share), which calls on the others.

pub mod bond;
pub mod bonding;
pub mod export;
pub mod fixes;
pub mod hub;
pub mod images;
pub mod locate;
pub mod meeting;
pub mod memories;
pub mod message_writer;
pub mod messages;
pub mod needle;
pub mod owntracks;
pub mod pause_book;
pub mod pausing;
pub mod pictures;
pub mod place_cache;
pub mod places;
pub mod position_writer;
pub mod private;
pub mod push;
pub mod relay;
pub mod removal;
pub mod sight;
pub mod summons;
pub mod trace;

pub use hub::Hub;
