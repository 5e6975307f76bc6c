//! Sealing what one partner sends the other: AES-256-GCM under a key expanded from the
//! bond key, a fresh random nonce per message, and associated data that binds each
//! sealed message to its bond, its sender, its kind and the sender's own counter.
//!
//! Why AES-256-GCM and not XChaCha20-Poly1305: the web client must open what the CLI
//! seals, and the browser's WebCrypto has AES-GCM (and X25519, HKDF, HMAC) but no
//! ChaCha20-Poly1305; one AEAD that both clients have natively beats a JavaScript AEAD
//! in the browser. Its one weakness here is the 96-bit random nonce: NIST SP 800-38D
//! allows 2^32 messages per key with random nonces, which at one sealed position a
//! second is 136 years of one bond.
//!
//! A sealed message is `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`. The server's
//! sequence numbers are given after a message is sealed, so the associated data binds the
//! sender's own counter instead ([`Context::counter`]); a receiver that remembers the
//! highest counter opened from its partner can tell a message the server replays.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand_core::{CryptoRng, RngCore};

use crate::Error;
use crate::keys::{BondKey, Role};

/// The bytes a sealed message adds to its content: the nonce and the tag.
pub const OVERHEAD: usize = NONCE_LEN + 16;

/// The nonce's length: GCM's 96 bits.
const NONCE_LEN: usize = 12;

/// What a sealed message is bound to. Opening it under another context fails, so the
/// server cannot move a message to another bond, turn it into another kind, or reflect a
/// partner's message back as if the other had sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context<'a> {
    /// The bond's id (the server's UUID, as bytes).
    pub bond_id: [u8; 16],
    /// Who sealed it.
    pub from: Role,
    /// What it is: "position", "voice", "feeling", "picture", ... (at most 255 bytes).
    pub kind: &'a str,
    /// The sender's own count of what it sealed, one more per message.
    pub counter: u64,
}

impl Context<'_> {
    /// The associated data: a label, the bond id, the sender's role, the kind with its
    /// length before it, and the counter, so no two contexts give the same bytes.
    fn associated_data(&self) -> Result<Vec<u8>, Error> {
        let kind = self.kind.as_bytes();
        let kind_len = u8::try_from(kind.len()).map_err(|_| Error::KindTooLong)?;
        let mut aad = Vec::with_capacity(16 + 16 + 1 + 1 + kind.len() + 8);
        aad.extend_from_slice(b"haurach seal v1\0");
        aad.extend_from_slice(&self.bond_id);
        aad.push(self.from.byte());
        aad.push(kind_len);
        aad.extend_from_slice(kind);
        aad.extend_from_slice(&self.counter.to_be_bytes());
        Ok(aad)
    }
}

/// The content key of a bond, expanded once from the bond key.
pub struct Sealer(Aes256Gcm);

impl Sealer {
    /// The sealer for a bond: AES-256-GCM under `HKDF-Expand(bond key, "haurach content
    /// v1")`, a key used for nothing else.
    pub fn new(key: &BondKey) -> Sealer {
        let content_key = key.expand(b"haurach content v1", &[]);
        Sealer(Aes256Gcm::new(&content_key.into()))
    }

    /// Seals `content` for `context` with a nonce from the operating system's random source.
    pub fn seal(&self, context: &Context<'_>, content: &[u8]) -> Result<Vec<u8>, Error> {
        self.seal_with(&mut rand_core::OsRng, context, content)
    }

    /// Seals `content` with a nonce drawn from `rng`.
    pub fn seal_with(
        &self,
        rng: &mut (impl RngCore + CryptoRng),
        context: &Context<'_>,
        content: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let aad = context.associated_data()?;
        let mut nonce = [0; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: content,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::TooLong)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what the partner sealed for `context`. Fails, saying nothing more, when any
    /// byte was changed, the key differs, or the context is not the one it was sealed for.
    pub fn open(&self, context: &Context<'_>, sealed: &[u8]) -> Result<Vec<u8>, Error> {
        let aad = context.associated_data()?;
        if sealed.len() < OVERHEAD {
            return Err(Error::Unopenable);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at the nonce's length");
        self.0
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Unopenable)
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sealer").field(&"<hidden>").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{DeviceSecret, InviteSecret};

    fn keys() -> (BondKey, BondKey) {
        let (a, b) = (DeviceSecret::generate(), DeviceSecret::generate());
        let invite = InviteSecret::generate();
        (
            BondKey::derive(Role::Inviter, &a, &b.public(), &invite).unwrap(),
            BondKey::derive(Role::Accepter, &b, &a.public(), &invite).unwrap(),
        )
    }

    const CONTEXT: Context<'static> = Context {
        bond_id: [9; 16],
        from: Role::Inviter,
        kind: "voice",
        counter: 41,
    };

    #[test]
    fn the_partner_opens_what_was_sealed() {
        let (ka, kb) = keys();
        let sealed = Sealer::new(&ka).seal(&CONTEXT, b"I HEARD that!").unwrap();
        assert_eq!(sealed.len(), 13 + OVERHEAD);
        assert!(!sealed.windows(5).any(|w| w == b"HEARD"));
        assert_eq!(
            Sealer::new(&kb).open(&CONTEXT, &sealed).unwrap(),
            b"I HEARD that!"
        );
        // Each message has its own nonce: the same words seal differently.
        assert_ne!(
            Sealer::new(&ka).seal(&CONTEXT, b"I HEARD that!").unwrap(),
            sealed
        );
    }

    #[test]
    fn every_tampered_byte_fails() {
        let (ka, kb) = keys();
        let sealed = Sealer::new(&ka).seal(&CONTEXT, b"calm").unwrap();
        let opener = Sealer::new(&kb);
        for idx in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[idx] ^= 0x01;
            assert_eq!(opener.open(&CONTEXT, &bad), Err(Error::Unopenable), "{idx}");
        }
        assert_eq!(
            opener.open(&CONTEXT, &sealed[..sealed.len() - 1]),
            Err(Error::Unopenable)
        );
        assert_eq!(opener.open(&CONTEXT, &[]), Err(Error::Unopenable));
    }

    #[test]
    fn a_swapped_key_fails() {
        let (ka, _) = keys();
        let (other, _) = keys();
        let sealed = Sealer::new(&ka).seal(&CONTEXT, b"calm").unwrap();
        assert_eq!(
            Sealer::new(&other).open(&CONTEXT, &sealed),
            Err(Error::Unopenable)
        );
    }

    #[test]
    fn another_context_fails() {
        let (ka, kb) = keys();
        let sealed = Sealer::new(&ka).seal(&CONTEXT, b"calm").unwrap();
        let opener = Sealer::new(&kb);
        let others = [
            Context {
                bond_id: [8; 16],
                ..CONTEXT
            },
            Context {
                from: Role::Accepter,
                ..CONTEXT
            },
            Context {
                kind: "feeling",
                ..CONTEXT
            },
            Context {
                counter: 42,
                ..CONTEXT
            },
        ];
        for other in others {
            assert_eq!(
                opener.open(&other, &sealed),
                Err(Error::Unopenable),
                "{other:?}"
            );
        }
        let long = "x".repeat(256);
        let too_long = Context {
            kind: &long,
            ..CONTEXT
        };
        assert_eq!(opener.seal(&too_long, b"calm"), Err(Error::KindTooLong));
    }
}
