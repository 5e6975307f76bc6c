// Numbers and directions as a person reads them. The distance and duration rules are the
// same as the server's (crates/proto/src/human.rs), so the CLI and the page agree.

/** A distance as a person says it: "8 m", "750 m", "1.2 km", "17 km", "1,200 km". */
export function distance(m) {
  if (!Number.isFinite(m)) return "an unknown distance";
  m = Math.max(0, m);
  if (m < 1000) {
    // Below 100 m a metre matters; above, tens of metres are enough.
    const rounded = m < 100 ? Math.round(m) : Math.round(m / 10) * 10;
    if (rounded < 1000) return `${rounded} m`;
  }
  const km = m / 1000;
  if (km < 10) return `${km.toFixed(1)} km`;
  return `${Math.round(km).toLocaleString("en-US")} km`;
}

/** A duration as a person says it: "12 s", "3 min", "1 h 5 min", "2 days". */
export function duration(ms) {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m === 0 ? `${h} h` : `${h} h ${m} min`;
  }
  const d = Math.floor(s / 86400);
  return d === 1 ? "1 day" : `${d} days`;
}

const POINTS = [
  "north", "north-north-east", "north-east", "east-north-east",
  "east", "east-south-east", "south-east", "south-south-east",
  "south", "south-south-west", "south-west", "west-south-west",
  "west", "west-north-west", "north-west", "north-north-west",
];

/** The nearest of the sixteen compass points to a bearing in degrees. */
export function compassPoint(bearingDeg) {
  const b = ((bearingDeg % 360) + 360) % 360;
  return POINTS[Math.round(b / 22.5) % 16];
}

/** A signed angle in (-180, 180]. */
export function signedAngle(deg) {
  let a = ((deg % 360) + 360) % 360;
  if (a > 180) a -= 360;
  return a;
}

/** Where the partner is relative to where the phone points: "ahead", "to your left"... */
export function relativeDirection(bearingDeg, headingDeg) {
  const a = signedAngle(bearingDeg - headingDeg);
  const abs = Math.abs(a);
  if (abs <= 15) return "straight ahead";
  if (abs >= 165) return "behind you";
  const side = a < 0 ? "left" : "right";
  if (abs <= 60) return `ahead to your ${side}`;
  if (abs <= 120) return `to your ${side}`;
  return `behind you to your ${side}`;
}

/** Coordinates in degrees, five decimals (about a metre). */
export function coordinates(lat, lon) {
  const ns = lat >= 0 ? "N" : "S";
  const ew = lon >= 0 ? "E" : "W";
  return `${Math.abs(lat).toFixed(5)}° ${ns}, ${Math.abs(lon).toFixed(5)}° ${ew}`;
}

/** A time of day, "14:05". */
export function clock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** How people name the tiers. */
export const TIER_NAMES = {
  pull: "The pull",
  alarm: "Alarm",
  feelings: "Feelings",
  voice: "Voice",
  thoughts: "Thoughts",
  images: "Images and trace",
  glimpse: "Glimpse",
  sight: "Sight",
  memories: "Memories",
};

/** Tiers whose names are plural: "feelings open", but "voice opens". */
export const PLURAL_TIERS = new Set(["feelings", "thoughts", "images", "memories"]);

/** The tiers, from the one that opens farthest to the one that opens closest. */
export const TIER_ORDER = [
  "pull", "alarm", "feelings", "voice", "thoughts", "images", "glimpse", "sight", "memories",
];

/** The feelings, in the order the server lists them. */
export const FEELINGS = [
  "calm", "joy", "pleasure", "victory", "love", "longing", "sadness", "fear",
];

/** "Calm" from "calm". */
export function capitalise(word) {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
