//! The private bond's integration tests: the geometry's promises as property tests over
//! the whole Earth (poles and antimeridian included), and the tiers as the server's
//! matcher decides them from two clients' tokens; and the vectors the web client's
//! `private.js` is held to; and the rule against replays.

mod charts;
mod rounding;
mod seen;
mod tiers;
mod vectors;
