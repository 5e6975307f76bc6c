//! Integration tests of the bond's rules, in one binary so the suite links once:
//! the GeographicLib reference set for the geodesy, and property tests for the rest.

mod disclosure;
mod geodtest;
mod images;
mod journey;
mod places;
mod properties;
