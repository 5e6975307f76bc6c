//! The tiers of the bond, the three profiles and their ranges, the strength of the bond,
//! and the hysteresis that keeps an open tier from flapping at its edge.

use serde::{Deserialize, Serialize};

/// What can pass between the partners. The serialised names are the API's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Direction and distance to the partner, at any range.
    Pull,
    /// Terror that goes through at any range.
    Alarm,
    /// Calm, fear, joy, victory...
    Feelings,
    /// Deliberate words.
    Voice,
    /// Live typing, unless guarded.
    Thoughts,
    /// Pictures sent deliberately, sharper the closer; trace rides on it.
    Images,
    /// A look through the partner's camera, on request.
    Glimpse,
    /// A continuous view.
    Sight,
    /// Everything shared.
    Memories,
}

impl Tier {
    /// Every tier, from the one that opens farthest to the one that opens closest.
    pub const ALL: [Tier; 9] = [
        Tier::Pull,
        Tier::Alarm,
        Tier::Feelings,
        Tier::Voice,
        Tier::Thoughts,
        Tier::Images,
        Tier::Glimpse,
        Tier::Sight,
        Tier::Memories,
    ];

    /// The API's key for this tier ("pull", "voice", ...).
    pub fn key(self) -> &'static str {
        match self {
            Tier::Pull => "pull",
            Tier::Alarm => "alarm",
            Tier::Feelings => "feelings",
            Tier::Voice => "voice",
            Tier::Thoughts => "thoughts",
            Tier::Images => "images",
            Tier::Glimpse => "glimpse",
            Tier::Sight => "sight",
            Tier::Memories => "memories",
        }
    }

    /// The tier named by an API key. Keys are exact: lowercase, as [`Tier::key`] spells them.
    pub fn from_key(key: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.key() == key)
    }

    /// The tier's bit in a [`TierSet`]: its index in [`Tier::ALL`], which is also the
    /// order of declaration.
    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// A set of distances for the tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The story's distances: feelings at 20 km, sight at 2 km.
    #[default]
    Story,
    /// Scaled down for walking distances in a city: feelings at 1 km, sight at 100 m.
    City,
    /// Everything at any range (memories still only together), for long-distance couples.
    Open,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 3] = [Profile::Story, Profile::City, Profile::Open];

    /// The API's key for this profile.
    pub fn key(self) -> &'static str {
        match self {
            Profile::Story => "story",
            Profile::City => "city",
            Profile::Open => "open",
        }
    }

    /// The profile named by an API key. Keys are exact: lowercase, as [`Profile::key`]
    /// spells them.
    pub fn from_key(key: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.key() == key)
    }

    /// The distance within which `tier` opens, or `None` when it is open at any range.
    pub fn range_m(self, tier: Tier) -> Option<f64> {
        // Memories need the partners together whatever the profile: 25 m everywhere.
        let range = match (self, tier) {
            (_, Tier::Pull | Tier::Alarm) => return None,
            (_, Tier::Memories) => 25.0,
            (Profile::Open, _) => return None,
            (Profile::Story, Tier::Feelings) => 20_000.0,
            (Profile::Story, Tier::Voice) => 17_000.0,
            (Profile::Story, Tier::Thoughts) => 16_000.0,
            (Profile::Story, Tier::Images) => 15_000.0,
            (Profile::Story, Tier::Glimpse) => 10_000.0,
            (Profile::Story, Tier::Sight) => 2_000.0,
            (Profile::City, Tier::Feelings) => 1_000.0,
            (Profile::City, Tier::Voice) => 850.0,
            (Profile::City, Tier::Thoughts) => 800.0,
            (Profile::City, Tier::Images) => 750.0,
            (Profile::City, Tier::Glimpse) => 500.0,
            (Profile::City, Tier::Sight) => 100.0,
        };
        Some(range)
    }

    /// The strength of the bond at a (pessimistic) distance: 1 within the memories range,
    /// 0 at and beyond the feelings range, continuous and monotonic between.
    ///
    /// Between the memories range `M` and the feelings range `F` the strength falls
    /// log-linearly, so each halving of the distance adds the same amount:
    ///
    /// ```text
    /// strength(d) = ln(F / d) / ln(F / M)    for M < d < F
    /// ```
    ///
    /// clamped to [0, 1]. A scale in ratios rather than metres suits what strength drives
    /// (image and sight resolution): the step from 2 km to 1 km matters as much as the
    /// step from 200 m to 100 m. Some values:
    ///
    /// | distance | story (F = 20 km, M = 25 m) | city (F = 1 km, M = 25 m) |
    /// |---|---|---|
    /// | 25 m or less | 1 | 1 |
    /// | 100 m | 0.793 | 0.624 |
    /// | 500 m | 0.552 | 0.188 |
    /// | 1 km | 0.448 | 0 |
    /// | 2 km | 0.344 | 0 |
    /// | 10 km | 0.104 | 0 |
    /// | 20 km or more | 0 | 0 |
    ///
    /// The "open" profile is 1 at every distance (even an unknown one), since everything
    /// passes at any range. For the other profiles an unknown (NaN) distance gives 0.
    pub fn strength(self, distance_m: f64) -> f64 {
        let (Some(feelings), Some(memories)) =
            (self.range_m(Tier::Feelings), self.range_m(Tier::Memories))
        else {
            return 1.0;
        };
        if distance_m.is_nan() || distance_m >= feelings {
            0.0
        } else if distance_m <= memories {
            1.0
        } else {
            ((feelings / distance_m).ln() / (feelings / memories).ln()).clamp(0.0, 1.0)
        }
    }
}

/// A set of tiers, stored as bits so it can be persisted as one integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TierSet(u16);

impl TierSet {
    /// The empty set.
    pub const EMPTY: TierSet = TierSet(0);

    /// The set holding only the tiers that are open at any range in every profile.
    pub fn always() -> TierSet {
        TierSet(Tier::Pull.bit() | Tier::Alarm.bit())
    }

    /// Whether `tier` is in the set.
    pub fn contains(self, tier: Tier) -> bool {
        self.0 & tier.bit() != 0
    }

    /// Adds `tier`.
    pub fn insert(&mut self, tier: Tier) {
        self.0 |= tier.bit();
    }

    /// Removes `tier`.
    pub fn remove(&mut self, tier: Tier) {
        self.0 &= !tier.bit();
    }

    /// The tiers in the set, in [`Tier::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Tier> {
        Tier::ALL.into_iter().filter(move |t| self.contains(*t))
    }

    /// The set as bits, for storage.
    pub fn bits(self) -> u16 {
        self.0
    }

    /// A set from stored bits; unknown bits are dropped.
    pub fn from_bits(bits: u16) -> TierSet {
        TierSet(bits & TierSet::ALL_BITS)
    }

    /// Every bit that names a tier.
    const ALL_BITS: u16 = (1 << Tier::ALL.len()) - 1;
}

/// A tier that opened or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierChange {
    /// Which tier.
    pub tier: Tier,
    /// Whether it is now open.
    pub open: bool,
}

/// How far apart the partners are, as the tiers judge it: two measures of one distance.
///
/// - **Pessimistic** (`distance + accuracy_a + accuracy_b`) for every tier but memories:
///   a blurry fix never opens more than a sharp one would. Right where the ranges dwarf a
///   phone's accuracy (hundreds of metres and up).
/// - **Together** for memories, whose 25 m is the size of a phone's own uncertainty: the
///   distance less each fix's accuracy, each counted up to [`Separation::ALLOWANCE_M`]
///   (15 m), and never below 0. Two people side by side, whose phones put them 10-30 m
///   apart with 10-30 m accuracies, are together; two sharp fixes 50 m apart are not; and
///   however blurry the fixes, memories never open beyond 25 + 2 × 15 = 55 m of measured
///   distance (60.5 m to close, with the hysteresis). A pessimistic rule would need
///   accuracies of a few metres, which phones rarely give.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Separation {
    /// Distance plus both accuracies, metres.
    pub pessimistic_m: f64,
    /// Distance less both accuracies, each at most [`Separation::ALLOWANCE_M`], at least 0.
    pub together_m: f64,
}

impl Separation {
    /// The most of one fix's accuracy that counts towards being together, metres.
    pub const ALLOWANCE_M: f64 = 15.0;

    /// The separation of two fixes `distance_m` apart with these accuracies (a negative
    /// or NaN accuracy counts as 0; a NaN distance is an unknown separation).
    pub fn of(distance_m: f64, accuracy_a: f64, accuracy_b: f64) -> Separation {
        let acc = |a: f64| if a.is_nan() { 0.0 } else { a.max(0.0) };
        let (a, b) = (acc(accuracy_a), acc(accuracy_b));
        let allowance = a.min(Self::ALLOWANCE_M) + b.min(Self::ALLOWANCE_M);
        Separation {
            pessimistic_m: distance_m + a + b,
            together_m: if distance_m.is_nan() {
                f64::NAN
            } else {
                (distance_m - allowance).max(0.0)
            },
        }
    }

    /// The measure `tier` is judged by.
    pub fn for_tier(self, tier: Tier) -> f64 {
        match tier {
            Tier::Memories => self.together_m,
            _ => self.pessimistic_m,
        }
    }
}

/// One distance for every tier: an exact one, or an unknown one (NaN).
impl From<f64> for Separation {
    fn from(distance_m: f64) -> Separation {
        Separation {
            pessimistic_m: distance_m,
            together_m: distance_m,
        }
    }
}

/// Which tiers of a bond are open, with hysteresis: a tier opens when its measure of the
/// [`Separation`] (pessimistic, or together for memories) is within its range and closes
/// only past 1.1 times its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierState {
    open: TierSet,
}

impl TierState {
    /// The factor past which an open tier closes.
    pub const HYSTERESIS: f64 = 1.1;

    /// A state with the given open tiers (the tiers open at any range are always added).
    pub fn new(open: TierSet) -> TierState {
        TierState {
            open: TierSet(open.0 | TierSet::always().0),
        }
    }

    /// The state of a bond with no distance known yet: only the tiers open at any range.
    ///
    /// That is [`TierSet::always`] plus, for a profile such as "open", every tier the
    /// profile opens at any range; every tier that needs a distance is closed.
    pub fn initial(profile: Profile) -> TierState {
        let mut open = TierSet::always();
        for tier in Tier::ALL {
            if profile.range_m(tier).is_none() {
                open.insert(tier);
            }
        }
        TierState { open }
    }

    /// Moves the state to a new separation and returns what opened and closed, in
    /// [`Tier::ALL`] order.
    ///
    /// A closed tier opens when its measure ([`Separation::for_tier`]) is within its
    /// range; an open one closes only past 1.1 × its range ([`TierState::HYSTERESIS`]).
    /// Tiers the profile opens at any range are opened if they were not. A NaN distance
    /// means the distance is unknown: every tier that needs one closes.
    pub fn update(&mut self, profile: Profile, apart: impl Into<Separation>) -> Vec<TierChange> {
        let apart = apart.into();
        let mut changes = Vec::new();
        for tier in Tier::ALL {
            let distance_m = apart.for_tier(tier);
            let was_open = self.open.contains(tier);
            let open = match profile.range_m(tier) {
                None => true,
                // Comparisons with NaN are false, so an unknown distance neither opens a
                // closed tier nor keeps an open one.
                Some(range) if was_open => distance_m <= range * TierState::HYSTERESIS,
                Some(range) => distance_m <= range,
            };
            if open != was_open {
                if open {
                    self.open.insert(tier);
                } else {
                    self.open.remove(tier);
                }
                changes.push(TierChange { tier, open });
            }
        }
        changes
    }

    /// Re-evaluates for a profile change or when the distance is unknown (`None` closes every
    /// tier that needs a distance).
    ///
    /// With a distance, each tier is judged against the new profile's ranges as
    /// [`TierState::update`] would judge it: a closed tier opens within its range, and a
    /// tier that is already open stays open up to 1.1 × its range, so that switching
    /// profiles (or resyncing) at the edge of a range does not make it flap either. The
    /// tiers the profile opens at any range are opened in both cases.
    pub fn reset(&mut self, profile: Profile, apart: Option<Separation>) -> Vec<TierChange> {
        // `update` with an unknown (NaN) distance is exactly the `None` case.
        self.update(profile, apart.unwrap_or(Separation::from(f64::NAN)))
    }

    /// The open tiers.
    pub fn open(self) -> TierSet {
        self.open
    }

    /// Whether `tier` is open.
    pub fn is_open(self, tier: Tier) -> bool {
        self.open.contains(tier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn together_counts_up_to_fifteen_metres_of_each_accuracy() {
        // Side by side as phones report it.
        let side_by_side = Separation::of(20.0, 10.0, 10.0);
        assert_eq!(side_by_side.pessimistic_m, 40.0);
        assert_eq!(side_by_side.together_m, 0.0);
        // Sharp fixes: the distance less a little.
        assert_eq!(Separation::of(50.0, 5.0, 5.0).together_m, 40.0);
        // Blurry fixes count 15 m each, no more.
        assert_eq!(Separation::of(60.0, 200.0, 200.0).together_m, 30.0);
        // Unknown accuracies count nothing; an unknown distance stays unknown.
        assert_eq!(Separation::of(30.0, f64::NAN, -4.0).together_m, 30.0);
        assert!(Separation::of(f64::NAN, 1.0, 1.0).together_m.is_nan());
        // Only memories go by it.
        assert_eq!(side_by_side.for_tier(Tier::Memories), 0.0);
        assert_eq!(side_by_side.for_tier(Tier::Sight), 40.0);
    }

    #[test]
    fn memories_open_side_by_side_and_never_past_fifty_five_metres() {
        let mut state = TierState::initial(Profile::Story);
        state.update(Profile::Story, Separation::of(20.0, 10.0, 10.0));
        assert!(state.is_open(Tier::Memories));
        let mut state = TierState::initial(Profile::Story);
        state.update(Profile::Story, Separation::of(55.5, 1_000.0, 1_000.0));
        assert!(!state.is_open(Tier::Memories));
        // A blurry fix opens nothing else early: sight still goes by the pessimistic
        // distance.
        let mut state = TierState::initial(Profile::Story);
        state.update(Profile::Story, Separation::of(1_990.0, 30.0, 30.0));
        assert!(!state.is_open(Tier::Sight));
    }

    /// The tiers open in `state`, by key, for readable assertions.
    fn open_keys(state: TierState) -> Vec<&'static str> {
        state.open().iter().map(Tier::key).collect()
    }

    fn at(profile: Profile, distance_m: f64) -> Vec<&'static str> {
        let mut state = TierState::initial(profile);
        state.update(profile, distance_m);
        open_keys(state)
    }

    #[test]
    fn keys_round_trip_and_are_the_lowercase_variant_names() {
        // `#[serde(rename_all = "lowercase")]` serialises the variants by the same
        // names, so the API's keys agree with the JSON of the enums.
        for tier in Tier::ALL {
            assert_eq!(Tier::from_key(tier.key()), Some(tier));
            assert_eq!(tier.key(), format!("{tier:?}").to_lowercase());
        }
        for profile in Profile::ALL {
            assert_eq!(Profile::from_key(profile.key()), Some(profile));
            assert_eq!(profile.key(), format!("{profile:?}").to_lowercase());
        }
        assert_eq!(Tier::from_key("Voice"), None);
        assert_eq!(Tier::from_key("trace"), None);
        assert_eq!(Profile::from_key(""), None);
        assert_eq!(Profile::default(), Profile::Story);
    }

    #[test]
    fn tier_order_is_declaration_order() {
        for (idx, tier) in Tier::ALL.into_iter().enumerate() {
            assert_eq!(tier as usize, idx);
            assert_eq!(
                TierSet::from_bits(1 << idx).iter().collect::<Vec<_>>(),
                [tier]
            );
        }
    }

    #[test]
    fn the_range_table() {
        use Tier::*;
        let story = [
            20_000.0, 17_000.0, 16_000.0, 15_000.0, 10_000.0, 2_000.0, 25.0,
        ];
        let city = [1_000.0, 850.0, 800.0, 750.0, 500.0, 100.0, 25.0];
        let ranged = [Feelings, Voice, Thoughts, Images, Glimpse, Sight, Memories];
        for (idx, tier) in ranged.into_iter().enumerate() {
            assert_eq!(Profile::Story.range_m(tier), Some(story[idx]), "{tier:?}");
            assert_eq!(Profile::City.range_m(tier), Some(city[idx]), "{tier:?}");
            let open = if tier == Memories { Some(25.0) } else { None };
            assert_eq!(Profile::Open.range_m(tier), open, "{tier:?}");
        }
        for profile in Profile::ALL {
            assert_eq!(profile.range_m(Pull), None);
            assert_eq!(profile.range_m(Alarm), None);
        }
    }

    #[test]
    fn always_is_what_every_profile_opens_at_any_range() {
        for tier in Tier::ALL {
            let everywhere = Profile::ALL.iter().all(|p| p.range_m(tier).is_none());
            assert_eq!(TierSet::always().contains(tier), everywhere, "{tier:?}");
        }
    }

    #[test]
    fn tier_sets() {
        let mut set = TierSet::EMPTY;
        assert!(!set.contains(Tier::Voice));
        set.insert(Tier::Voice);
        set.insert(Tier::Memories);
        set.insert(Tier::Voice);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [Tier::Voice, Tier::Memories]
        );
        assert_eq!(TierSet::from_bits(set.bits()), set);
        set.remove(Tier::Voice);
        set.remove(Tier::Pull);
        assert_eq!(set.iter().collect::<Vec<_>>(), [Tier::Memories]);
        assert_eq!(TierSet::from_bits(u16::MAX).bits(), 0b1_1111_1111);
        assert_eq!(TierSet::from_bits(0xfe00), TierSet::EMPTY);
    }

    #[test]
    fn new_states_always_hold_pull_and_alarm() {
        assert_eq!(TierState::new(TierSet::EMPTY).open(), TierSet::always());
        let mut sight = TierSet::EMPTY;
        sight.insert(Tier::Sight);
        assert_eq!(open_keys(TierState::new(sight)), ["pull", "alarm", "sight"]);
        assert_eq!(TierState::initial(Profile::Story).open(), TierSet::always());
        assert_eq!(TierState::initial(Profile::City).open(), TierSet::always());
        assert_eq!(
            open_keys(TierState::initial(Profile::Open)),
            [
                "pull", "alarm", "feelings", "voice", "thoughts", "images", "glimpse", "sight"
            ]
        );
    }

    #[test]
    fn the_story_table() {
        use Profile::Story;
        assert_eq!(at(Story, 25_000.0), ["pull", "alarm"]);
        assert_eq!(at(Story, 20_001.0), ["pull", "alarm"]);
        assert_eq!(at(Story, 20_000.0), ["pull", "alarm", "feelings"]);
        assert_eq!(at(Story, 19_000.0), ["pull", "alarm", "feelings"]);
        assert_eq!(at(Story, 16_500.0), ["pull", "alarm", "feelings", "voice"]);
        assert_eq!(
            at(Story, 16_000.0),
            ["pull", "alarm", "feelings", "voice", "thoughts"]
        );
        assert_eq!(
            at(Story, 12_000.0),
            ["pull", "alarm", "feelings", "voice", "thoughts", "images"]
        );
        assert_eq!(
            at(Story, 5_000.0),
            [
                "pull", "alarm", "feelings", "voice", "thoughts", "images", "glimpse"
            ]
        );
        assert_eq!(
            at(Story, 2_000.0),
            [
                "pull", "alarm", "feelings", "voice", "thoughts", "images", "glimpse", "sight"
            ]
        );
        assert_eq!(at(Story, 26.0).len(), 8);
        assert_eq!(at(Story, 25.0).len(), 9);
        assert_eq!(at(Story, 0.0).len(), 9);
    }

    #[test]
    fn the_city_table() {
        use Profile::City;
        assert_eq!(at(City, 1_001.0), ["pull", "alarm"]);
        assert_eq!(at(City, 900.0), ["pull", "alarm", "feelings"]);
        assert_eq!(at(City, 820.0), ["pull", "alarm", "feelings", "voice"]);
        assert_eq!(at(City, 600.0).len(), 6);
        assert_eq!(at(City, 120.0).len(), 7);
        assert_eq!(at(City, 100.0).len(), 8);
        assert_eq!(at(City, 20.0).len(), 9);
    }

    #[test]
    fn the_open_profile_needs_a_distance_only_for_memories() {
        assert_eq!(at(Profile::Open, 20_000_000.0).len(), 8);
        assert_eq!(at(Profile::Open, f64::NAN).len(), 8);
        assert_eq!(at(Profile::Open, 25.0).len(), 9);
    }

    #[test]
    fn changes_come_in_tier_order() {
        let mut state = TierState::initial(Profile::Story);
        let changes = state.update(Profile::Story, 14_000.0);
        let opened: Vec<_> = changes.iter().map(|c| (c.tier.key(), c.open)).collect();
        assert_eq!(
            opened,
            [
                ("feelings", true),
                ("voice", true),
                ("thoughts", true),
                ("images", true)
            ]
        );
        let changes = state.update(Profile::Story, 30_000.0);
        let closed: Vec<_> = changes.iter().map(|c| (c.tier.key(), c.open)).collect();
        assert_eq!(
            closed,
            [
                ("feelings", false),
                ("voice", false),
                ("thoughts", false),
                ("images", false)
            ]
        );
        assert!(state.update(Profile::Story, 30_000.0).is_empty());
    }

    #[test]
    fn an_open_tier_closes_only_past_one_point_one_times_its_range() {
        let mut state = TierState::initial(Profile::Story);
        state.update(Profile::Story, 2_000.0);
        assert!(state.is_open(Tier::Sight));
        // A walker on the edge: out to 2.2 km and back keeps sight open.
        for d in [2_100.0, 2_200.0, 1_990.0, 2_199.0] {
            assert!(state.update(Profile::Story, d).is_empty(), "{d}");
        }
        let changes = state.update(Profile::Story, 2_201.0);
        assert_eq!(
            changes,
            [TierChange {
                tier: Tier::Sight,
                open: false
            }]
        );
        // Closed again, it opens only back within its range, not within 1.1 × range.
        assert!(state.update(Profile::Story, 2_100.0).is_empty());
        let changes = state.update(Profile::Story, 2_000.0);
        assert_eq!(
            changes,
            [TierChange {
                tier: Tier::Sight,
                open: true
            }]
        );
    }

    #[test]
    fn an_unknown_distance_closes_every_ranged_tier() {
        let mut state = TierState::initial(Profile::Story);
        state.update(Profile::Story, 10.0);
        let changes = state.update(Profile::Story, f64::NAN);
        assert_eq!(changes.len(), 7);
        assert!(changes.iter().all(|c| !c.open));
        assert_eq!(state.open(), TierSet::always());
    }

    #[test]
    fn reset_without_a_distance_keeps_only_the_profiles_unranged_tiers() {
        let mut state = TierState::initial(Profile::Story);
        state.update(Profile::Story, 10.0);
        let changes = state.reset(Profile::Open, None);
        assert_eq!(
            changes,
            [TierChange {
                tier: Tier::Memories,
                open: false
            }]
        );
        assert_eq!(state, TierState::initial(Profile::Open));

        let changes = state.reset(Profile::Story, None);
        assert_eq!(changes.len(), 6);
        assert_eq!(state, TierState::initial(Profile::Story));
    }

    #[test]
    fn reset_re_evaluates_for_a_new_profile() {
        // From story to city at 900 m: feelings stays, voice is within 1.1 × 850 m so it
        // stays too, thoughts (800 m × 1.1 = 880 m) and the rest close.
        let mut state = TierState::initial(Profile::Story);
        state.update(Profile::Story, 900.0);
        assert_eq!(state.open().iter().count(), 8);
        let changes = state.reset(Profile::City, Some(900.0.into()));
        let closed: Vec<_> = changes.iter().map(|c| (c.tier.key(), c.open)).collect();
        assert_eq!(
            closed,
            [
                ("thoughts", false),
                ("images", false),
                ("glimpse", false),
                ("sight", false)
            ]
        );
        assert_eq!(open_keys(state), ["pull", "alarm", "feelings", "voice"]);

        // Back to story at 900 m: everything up to glimpse reopens, sight too (2 km).
        let changes = state.reset(Profile::Story, Some(900.0.into()));
        assert_eq!(changes.len(), 4);
        assert!(changes.iter().all(|c| c.open));

        // To open far away: everything but memories opens.
        let mut state = TierState::initial(Profile::Story);
        let changes = state.reset(Profile::Open, Some(5_000_000.0.into()));
        assert_eq!(changes.len(), 6);
        assert_eq!(state, TierState::initial(Profile::Open));
    }

    #[test]
    fn strength_formula_values() {
        let close = |a: f64, b: f64| (a - b).abs() < 5e-4;
        let story = Profile::Story;
        assert_eq!(story.strength(0.0), 1.0);
        assert_eq!(story.strength(25.0), 1.0);
        assert!(close(story.strength(100.0), 0.793));
        assert!(close(story.strength(500.0), 0.552));
        assert!(close(story.strength(1_000.0), 0.448));
        assert!(close(story.strength(2_000.0), 0.344));
        assert!(close(story.strength(10_000.0), 0.104));
        assert_eq!(story.strength(20_000.0), 0.0);
        assert_eq!(story.strength(1e9), 0.0);
        assert_eq!(story.strength(f64::INFINITY), 0.0);
        assert_eq!(story.strength(f64::NAN), 0.0);

        let city = Profile::City;
        assert_eq!(city.strength(25.0), 1.0);
        assert!(close(city.strength(100.0), 0.624));
        assert!(close(city.strength(500.0), 0.188));
        assert_eq!(city.strength(1_000.0), 0.0);

        for d in [0.0, 25.0, 1e3, 1e7, f64::INFINITY, f64::NAN] {
            assert_eq!(Profile::Open.strength(d), 1.0);
        }
    }

    #[test]
    fn strength_is_continuous_at_the_memories_range() {
        for profile in [Profile::Story, Profile::City] {
            let just_past = profile.strength(25.0 + 1e-9);
            assert!(1.0 - just_past < 1e-9, "{profile:?} {just_past}");
            let just_inside = profile.strength(profile.range_m(Tier::Feelings).unwrap() - 1e-9);
            assert!(just_inside < 1e-9, "{profile:?} {just_inside}");
        }
    }
}
