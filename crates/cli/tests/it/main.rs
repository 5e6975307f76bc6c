//! The CLI's integration tests, in one binary so the suite links once. Each test starts
//! the real server binary on a port-0 listener with its own data directory and drives
//! the real CLI as a subprocess, with its own sessions home.

mod account;
mod backup;
mod bench;
mod city;
mod crash;
mod deploy;
mod link;
mod locate;
mod multinode;
mod pause;
mod pictures;
mod places;
mod private;
mod private_places;
mod readme;
mod replay;
mod restart;
mod retry;
mod search;
mod secrets;
mod startup;
mod support;
mod tower;
mod walk;
