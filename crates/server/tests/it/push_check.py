"""Decrypts and verifies Web Push requests as a browser's push service and the browser
would, with implementations independent of the server's: http_ece (aes128gcm, RFC 8291)
and cryptography (ES256 VAPID tokens, RFC 8292).

Reads JSON on stdin: {"private_key": b64url P-256 scalar, "auth": b64url secret,
"server_key": b64url uncompressed point the server advertises, "pushes": [{"endpoint",
"authorization", "body": b64url}]}. Writes one JSON object per push: the decrypted
payload and the token's claims. Exits non-zero, saying why, on the first push that does
not decrypt or whose token does not verify.
"""

import base64
import json
import sys
import time
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64d(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def origin(url):
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    port = parts.port or default
    host = parts.hostname
    return f"{parts.scheme}://{host}" + ("" if port == default else f":{port}")


def verify_vapid(authorization, endpoint, server_key):
    scheme, _, params = authorization.partition(" ")
    if scheme != "vapid":
        raise ValueError(f"Authorization scheme {scheme!r}, not vapid")
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    if fields["k"] != server_key:
        raise ValueError("the token's k is not the advertised key")
    header_b64, claims_b64, sig_b64 = fields["t"].split(".")
    header = json.loads(b64d(header_b64))
    if header.get("alg") != "ES256":
        raise ValueError(f"alg {header.get('alg')}")
    sig = b64d(sig_b64)
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(server_key))
    key.verify(
        encode_dss_signature(r, s),
        f"{header_b64}.{claims_b64}".encode(),
        ec.ECDSA(hashes.SHA256()),
    )
    claims = json.loads(b64d(claims_b64))
    if claims["aud"] != origin(endpoint):
        raise ValueError(f"aud {claims['aud']!r} is not {origin(endpoint)!r}")
    now = time.time()
    if not now < claims["exp"] <= now + 24 * 3600:
        raise ValueError(f"exp {claims['exp']} is not within 24 hours of {now}")
    return claims


def main():
    job = json.load(sys.stdin)
    scalar = int.from_bytes(b64d(job["private_key"]), "big")
    private_key = ec.derive_private_key(scalar, ec.SECP256R1())
    auth = b64d(job["auth"])
    for push in job["pushes"]:
        claims = verify_vapid(push["authorization"], push["endpoint"], job["server_key"])
        plain = http_ece.decrypt(
            b64d(push["body"]),
            private_key=private_key,
            auth_secret=auth,
            version="aes128gcm",
        )
        print(json.dumps({"payload": json.loads(plain), "claims": claims}))


if __name__ == "__main__":
    main()
