//! The keys of a private bond: each device's X25519 key pair, the invite's secret, and the
//! bond key the two devices derive from both, which the server never holds.
//!
//! How a private bond is made (the server only relays):
//!
//! 1. The inviter's device makes a [`DeviceSecret`] and an [`InviteSecret`]. It gives the
//!    server its public key and the invite's [`InviteSecret::lookup`] hash, and shows the
//!    partner the secret itself ([`crate::invite`]: a code or a QR code), off the server.
//! 2. The accepter's device makes its own [`DeviceSecret`], gives the server its public key
//!    and the lookup hash, and is given the inviter's public key; the inviter's device is
//!    given the accepter's.
//! 3. Each derives [`BondKey::derive`] from its own secret, both public keys (inviter's
//!    first) and the invite secret, and sends its [`BondKey::confirmation`] tag; each
//!    checks the other's with [`BondKey::check_confirmation`].
//!
//! A server that swaps the public keys knows the X25519 secrets it shares with each
//! device but not the invite secret, which is HKDF's salt, so it can compute neither
//! device's key. The two devices then hold different keys, and the confirmation fails on
//! both sides: the bond fails loudly rather than quietly sealing to the server.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;

/// Which side of the bond a device is on. The inviter's public key always comes first in
/// the key derivation, so both devices bind the two keys in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The one who made the invite.
    Inviter,
    /// The one who accepted it.
    Accepter,
}

impl Role {
    /// The other side.
    pub fn other(self) -> Role {
        match self {
            Role::Inviter => Role::Accepter,
            Role::Accepter => Role::Inviter,
        }
    }

    /// One byte for the role, as it enters associated data and confirmation tags.
    pub(crate) fn byte(self) -> u8 {
        match self {
            Role::Inviter => 1,
            Role::Accepter => 2,
        }
    }
}

/// A device's X25519 secret key. It stays on the device (the CLI and the web client keep
/// it until the bond key is derived); only [`DeviceSecret::public`] is sent.
pub struct DeviceSecret(StaticSecret);

impl DeviceSecret {
    /// A new secret from the operating system's random source.
    pub fn generate() -> DeviceSecret {
        DeviceSecret::from_rng(&mut rand_core::OsRng)
    }

    /// A new secret from `rng` (tests pass a seeded one).
    pub fn from_rng(rng: &mut (impl RngCore + CryptoRng)) -> DeviceSecret {
        DeviceSecret(StaticSecret::random_from_rng(rng))
    }

    /// The secret as it was stored with [`DeviceSecret::to_bytes`].
    pub fn from_bytes(bytes: [u8; 32]) -> DeviceSecret {
        DeviceSecret(StaticSecret::from(bytes))
    }

    /// The secret's bytes, to keep on the device until the bond key is derived.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key to send through the server.
    pub fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.0).to_bytes()
    }
}

impl std::fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DeviceSecret").field(&"<hidden>").finish()
    }
}

/// The invite's secret: 160 random bits the inviter shows the partner off the server
/// (as a code or a QR code), and which the server only ever sees hashed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct InviteSecret([u8; InviteSecret::LEN]);

impl InviteSecret {
    /// Its length in bytes: 160 bits, above the 128 the issue asks for, and a whole
    /// number of base32 characters (32), so the code has no padding.
    pub const LEN: usize = 20;

    /// A new secret from the operating system's random source.
    pub fn generate() -> InviteSecret {
        InviteSecret::from_rng(&mut rand_core::OsRng)
    }

    /// A new secret from `rng`.
    pub fn from_rng(rng: &mut (impl RngCore + CryptoRng)) -> InviteSecret {
        let mut bytes = [0; InviteSecret::LEN];
        rng.fill_bytes(&mut bytes);
        InviteSecret(bytes)
    }

    /// The secret from its bytes (as [`crate::invite::parse_code`] reads them).
    pub fn from_bytes(bytes: [u8; InviteSecret::LEN]) -> InviteSecret {
        InviteSecret(bytes)
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8; InviteSecret::LEN] {
        &self.0
    }

    /// What the server keeps to find the invite: SHA-256 of a fixed label and the secret.
    ///
    /// The label keeps this hash apart from every other use of the secret (it is also the
    /// salt of the bond key), so the hash the server holds is of no use in deriving
    /// anything. With 160 random bits behind it, the hash cannot be reversed by guessing.
    pub fn lookup(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(b"haurach private invite lookup v1\0");
        hash.update(self.0);
        hash.finalize().into()
    }
}

impl std::fmt::Debug for InviteSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("InviteSecret").field(&"<hidden>").finish()
    }
}

/// The key two partners share, from which every other key of the bond is derived: the
/// content key ([`crate::seal`]) and the tokens' keys ([`crate::tokens`]).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct BondKey([u8; 32]);

impl BondKey {
    /// The bond key as one device derives it.
    ///
    /// `HKDF-SHA256(ikm = X25519(own secret, partner public), salt = invite secret,
    /// info = "haurach bond key v1" ‖ inviter's public key ‖ accepter's public key)`.
    /// The public keys go in the inviter's first whichever device derives, so both get
    /// the same key; binding them means a key derived over swapped public keys differs.
    /// Fails when the partner's public key is a low-order point, which would make the
    /// shared secret a constant anyone knows.
    pub fn derive(
        role: Role,
        own: &DeviceSecret,
        partner_public: &[u8; 32],
        invite: &InviteSecret,
    ) -> Result<BondKey, Error> {
        let shared = own.0.diffie_hellman(&PublicKey::from(*partner_public));
        if !shared.was_contributory() {
            return Err(Error::WeakPublicKey);
        }
        let own_public = own.public();
        let (inviter, accepter) = match role {
            Role::Inviter => (&own_public, partner_public),
            Role::Accepter => (partner_public, &own_public),
        };
        let mut info = Vec::with_capacity(19 + 64);
        info.extend_from_slice(b"haurach bond key v1");
        info.extend_from_slice(inviter);
        info.extend_from_slice(accepter);
        let mut key = [0; 32];
        Hkdf::<Sha256>::new(Some(invite.as_bytes()), shared.as_bytes())
            .expand(&info, &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Ok(BondKey(key))
    }

    /// A bond key from its stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> BondKey {
        BondKey(bytes)
    }

    /// The key's bytes, for the device to store.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// A key for one purpose, `HKDF-Expand(bond key, label ‖ context)`. The bond key is
    /// itself HKDF output (32 uniform bytes), so it serves as the pseudorandom key.
    pub(crate) fn expand(&self, label: &[u8], context: &[u8]) -> [u8; 32] {
        let hkdf = Hkdf::<Sha256>::from_prk(&self.0).expect("32 bytes is a valid PRK");
        let mut key = [0; 32];
        hkdf.expand_multi_info(&[label, context], &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        key
    }

    /// The tag `role`'s device sends to show the partner it holds the same key:
    /// HMAC-SHA256 under a key expanded for confirmation, over the role.
    pub fn confirmation(&self, role: Role) -> [u8; 32] {
        let key = self.expand(b"haurach confirm v1", &[]);
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(&[role.byte()]);
        mac.finalize().into_bytes().into()
    }

    /// Checks the partner's tag (in constant time); a different tag means the two devices
    /// derived different keys: a public key was swapped on the way, or the invite secret
    /// differs.
    pub fn check_confirmation(&self, partner: Role, tag: &[u8]) -> Result<(), Error> {
        let key = self.expand(b"haurach confirm v1", &[]);
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(&[partner.byte()]);
        mac.verify_slice(tag).map_err(|_| Error::KeyMismatch)
    }
}

impl std::fmt::Debug for BondKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BondKey").field(&"<hidden>").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sides of a bond made honestly.
    fn bonded() -> (BondKey, BondKey) {
        let (a, b) = (DeviceSecret::generate(), DeviceSecret::generate());
        let invite = InviteSecret::generate();
        let ka = BondKey::derive(Role::Inviter, &a, &b.public(), &invite).unwrap();
        let kb = BondKey::derive(Role::Accepter, &b, &a.public(), &invite).unwrap();
        (ka, kb)
    }

    #[test]
    fn both_devices_derive_the_same_key_and_confirm_it() {
        let (ka, kb) = bonded();
        assert_eq!(ka, kb);
        kb.check_confirmation(Role::Inviter, &ka.confirmation(Role::Inviter))
            .unwrap();
        ka.check_confirmation(Role::Accepter, &kb.confirmation(Role::Accepter))
            .unwrap();
        // A tag is bound to its role: one side's tag cannot be reflected back to it.
        assert_eq!(
            ka.check_confirmation(Role::Accepter, &ka.confirmation(Role::Inviter)),
            Err(Error::KeyMismatch)
        );
    }

    #[test]
    fn a_server_that_swaps_public_keys_is_caught_and_cannot_derive_either_key() {
        let (a, b) = (DeviceSecret::generate(), DeviceSecret::generate());
        let invite = InviteSecret::generate();
        // The server hands each device its own key instead of the partner's.
        let (ma, mb) = (DeviceSecret::generate(), DeviceSecret::generate());
        let ka = BondKey::derive(Role::Inviter, &a, &mb.public(), &invite).unwrap();
        let kb = BondKey::derive(Role::Accepter, &b, &ma.public(), &invite).unwrap();
        assert_ne!(ka, kb);
        assert_eq!(
            kb.check_confirmation(Role::Inviter, &ka.confirmation(Role::Inviter)),
            Err(Error::KeyMismatch)
        );
        assert_eq!(
            ka.check_confirmation(Role::Accepter, &kb.confirmation(Role::Accepter)),
            Err(Error::KeyMismatch)
        );
        // The server holds both X25519 secrets it shared, and the lookup hash, but not
        // the invite secret. Using the hash as if it were the secret gets it nothing.
        let guess = InviteSecret::from_bytes(invite.lookup()[..20].try_into().unwrap());
        let server_a = BondKey::derive(Role::Accepter, &mb, &a.public(), &guess).unwrap();
        let server_b = BondKey::derive(Role::Inviter, &ma, &b.public(), &guess).unwrap();
        assert_ne!(server_a, ka);
        assert_ne!(server_b, kb);
        // With the real secret it would have worked: the secret is what protects.
        let with_secret = BondKey::derive(Role::Accepter, &mb, &a.public(), &invite).unwrap();
        assert_eq!(with_secret, ka);
    }

    #[test]
    fn the_key_depends_on_the_invite_secret_and_the_order_of_the_keys() {
        let (a, b) = (DeviceSecret::generate(), DeviceSecret::generate());
        let invite = InviteSecret::generate();
        let other = InviteSecret::generate();
        let k = BondKey::derive(Role::Inviter, &a, &b.public(), &invite).unwrap();
        let k_other = BondKey::derive(Role::Inviter, &a, &b.public(), &other).unwrap();
        assert_ne!(k, k_other);
        // Both believing they invited: the same X25519 secret, the keys in another order.
        let both_inviters = BondKey::derive(Role::Inviter, &b, &a.public(), &invite).unwrap();
        assert_ne!(k, both_inviters);
    }

    #[test]
    fn a_low_order_public_key_is_refused() {
        let a = DeviceSecret::generate();
        let invite = InviteSecret::generate();
        // The identity point: every secret maps it to the all-zero shared secret.
        assert_eq!(
            BondKey::derive(Role::Inviter, &a, &[0; 32], &invite),
            Err(Error::WeakPublicKey)
        );
    }

    #[test]
    fn the_lookup_hash_is_labelled_and_secrets_stay_out_of_debug() {
        let invite = InviteSecret::from_bytes([7; 20]);
        let plain: [u8; 32] = Sha256::digest([7; 20]).into();
        assert_ne!(invite.lookup(), plain);
        assert_eq!(invite.lookup(), InviteSecret::from_bytes([7; 20]).lookup());
        assert_ne!(invite.lookup(), InviteSecret::from_bytes([8; 20]).lookup());
        let (k, _) = bonded();
        for shown in [
            format!("{invite:?}"),
            format!("{k:?}"),
            format!("{:?}", DeviceSecret::generate()),
        ] {
            assert!(shown.contains("<hidden>"), "{shown}");
        }
        let secret = DeviceSecret::generate();
        assert_eq!(
            DeviceSecret::from_bytes(secret.to_bytes()).public(),
            secret.public()
        );
    }
}
