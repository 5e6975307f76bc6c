"""What the OpenAPI document cannot say, for schemathesis (scripts/fuzz-api).

A request the document calls valid must be accepted. These rules of the server depend on
what a JSON Schema cannot know, so a valid request is made to follow them before it is
sent; a part of a request meant to be invalid is left alone:

- a position's `at` may not be more than a minute in the future (the clock);
- a journey's `from` may not be after its `to` (or, without one, after now), in its GPX and
  its JSON;
- a letter's parcel must be one its sender uploaded (the store): valid letters name the
  parcel scripts/fuzz-api uploaded, whose hash is in FUZZ_API_PARCEL;
- a push subscription's endpoint must reach a public address and its keys must be a
  P-256 point and 16 bytes: valid subscriptions name a loopback endpoint (the server
  under test allows them, `push_allow_loopback`) that nothing answers, and real keys;
- a pause's `until` must be in the future and within a year (the clock);
- a message's `sealed` is for a private bond only (the bond's state): the fuzzed city's
  bonds are plain, so a valid message sealed is sent as the same kind in the clear.

(Pictures need no help: for `image/jpeg`, `image/png` and `image/webp` schemathesis sends
real pictures. A private bond's sealed picture, `application/vnd.haurach.sealed-picture`,
is a format of its own, which schemathesis cannot make up: the strategy below draws
well-formed ones, which the fuzzed city's plain bonds refuse with 409 `unexpected_sealed`.)
"""

import os
import struct
from datetime import datetime, timedelta, timezone

import schemathesis
from hypothesis import strategies as st
from hypothesis.internal import lambda_sources

# The ladder's rungs (haurach_bond::images::LADDER).
LADDER = [64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072]
# A sealed rendition is at least the counter (8 bytes), the nonce (12) and the tag (16).
SEALED_MIN = 8 + 12 + 16


@st.composite
def _sealed_picture(draw):
    """Renditions as haurach_proto::sealed_pictures lays them out: every rung below the
    picture's longest side, then that side; each its side and length (4 bytes each,
    big-endian) and its sealed bytes."""
    longest = draw(st.integers(min_value=1, max_value=1100))
    sides = [rung for rung in LADDER if rung < longest] + [longest]
    body = b""
    for side in sides:
        sealed = draw(st.binary(min_size=SEALED_MIN, max_size=SEALED_MIN + 64))
        body += struct.pack(">II", side, len(sealed)) + sealed
    return body


schemathesis.openapi.media_type("application/vnd.haurach.sealed-picture", _sealed_picture())


# Debian 12's Python (3.11.2) can raise "SystemError: AST constructor recursion depth
# mismatch" in ast.parse (CPython gh-106905, an error path that forgets to lower its depth
# count), seen once here inside hypothesis while it parsed a lambda's source only to
# describe it, which failed a whole schemathesis run. The description is for reports: such
# a lambda is described as unknown instead.
_describe_lambda = lambda_sources._lambda_description


def _lambda_description(f, *args, **kwargs):
    try:
        return _describe_lambda(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _lambda_description

# A browser's push keys: an uncompressed P-256 point and a 16-byte secret, base64url.
PUSH_KEYS = {
    "p256dh": "BEDtzEmRpaIeePqnBA3ExmogSI38hEjA8G9Xxo5zS0LVidGGahc701MxSMLUPanr6Wgb6bOGJBJbbuBOP_gDZnk",
    "auth": "I-4KGoIudFEBZYKnKT4K9A",
}


def _is_valid(case, location: str) -> bool:
    """Whether the case's `location` (body, query) was drawn to be valid."""
    meta = case.meta
    if meta is None:
        return False
    for place, component in meta.components.items():
        if place.value == location:
            return component.mode.is_positive
    return meta.generation.mode.is_positive


def _time(text):
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    route = (case.method.upper(), case.path)
    if route == ("PUT", "/api/v1/me/position") and _is_valid(case, "body") and isinstance(case.body, dict):
        at = _time(case.body.get("at"))
        if at is not None and at.tzinfo is not None and at > datetime.now(timezone.utc):
            past = datetime.now(timezone.utc) - timedelta(hours=1)
            case.body["at"] = past.isoformat().replace("+00:00", "Z")
    elif route == ("POST", "/api/v1/letters") and _is_valid(case, "body") and isinstance(case.body, dict):
        parcel = os.environ.get("FUZZ_API_PARCEL")
        for ref in case.body.get("parcels") or []:
            if parcel and isinstance(ref, dict) and "hash" in ref:
                ref["hash"] = parcel
    elif route == ("POST", "/api/v1/push/subscriptions") and _is_valid(case, "body") and isinstance(case.body, dict):
        # Port 9 (discard): nothing listens, so pushes to it fail and are dropped.
        case.body["endpoint"] = f"http://127.0.0.1:9/fuzz/{abs(hash(str(case.body.get('endpoint')))) % 1000}"
        case.body["keys"] = dict(PUSH_KEYS)
    elif route == ("PUT", "/api/v1/me/pause") and _is_valid(case, "body") and isinstance(case.body, dict):
        until = _time(case.body.get("until"))
        now = datetime.now(timezone.utc)
        if until is not None and (until.tzinfo is None or not now < until < now + timedelta(days=365)):
            case.body["until"] = (now + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    elif route == ("POST", "/api/v1/bond/messages") and _is_valid(case, "body") and isinstance(case.body, dict):
        if case.body.pop("sealed", None) is not None:
            if case.body.get("kind") == "feeling":
                case.body["feeling"] = "calm"
                case.body.pop("body", None)
            else:
                case.body["body"] = "words"
                case.body.pop("feeling", None)
    elif route in (("GET", "/api/v1/me/journey.gpx"), ("GET", "/api/v1/me/journey")) and _is_valid(case, "query") and case.query:
        now = datetime.now(timezone.utc)
        start, end = _time(case.query.get("from")), _time(case.query.get("to"))
        if "to" not in case.query:
            end = now
        if start is not None and end is not None and start.tzinfo and end.tzinfo and start > end:
            case.query["from"] = end.isoformat().replace("+00:00", "Z")
