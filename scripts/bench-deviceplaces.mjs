// How long the page's rules for a private bond's places take to judge one fix
// (web/assets/deviceplaces.js, `judge`), with 1, 10 and 100 places, in Node with
// geographiclib's JavaScript port as the page loads it. docs/privacy.md, "Sealed places
// and the meeting point", "Cost", gives the numbers.
//
//   node scripts/bench-deviceplaces.mjs
import { createRequire } from "module";
import { fileURLToPath } from "url";

// api.js reads the saved session at import; nothing here calls the server.
globalThis.localStorage = { getItem: () => null, setItem() {}, removeItem() {} };
const web = new URL("../web/assets/", import.meta.url);
const require = createRequire(import.meta.url);
const g = require(fileURLToPath(new URL("vendor/geographiclib/geographiclib-geodesic.min.js", web)));
const wgs84 = (g.Geodesic ?? globalThis.geodesic.Geodesic).WGS84;
const places = await import(new URL("deviceplaces.js", web).href);

for (const n of [1, 10, 100]) {
  const book = places.emptyBook("spike");
  for (let i = 0; i < n; i++) {
    places.put(wgs84, book, { name: `place ${i}`, lat: -61 + i * 0.01, lon: -7.6, radius_m: 100 }, null);
  }
  const runs = 2000;
  const fix = (k) => ({ lat: -61 + (k % 7) * 0.0001, lon: -7.6, accuracy_m: 5 });
  // Warmed up first, so the JIT has compiled what is timed.
  for (let k = 0; k < runs; k++) places.judge(wgs84, book, fix(k));
  const start = performance.now();
  for (let k = 0; k < runs; k++) places.judge(wgs84, book, fix(k));
  const us = ((performance.now() - start) / runs) * 1000;
  console.log(`${n} places: ${us.toFixed(1)} µs a fix judged`);
}
