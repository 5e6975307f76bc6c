//! The store's conformance stories, in one binary: each scripted story runs against
//! SQLite and against a throwaway PostgreSQL cluster, so both backends keep the same
//! promises.

mod city;
mod devices;
mod images;
mod locate;
mod pause;
mod places;
mod private_bond;
mod push;
mod removal;
mod store;
