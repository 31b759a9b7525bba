//! An update signing key, made and used the way `tauri signer generate` and
//! `tauri signer sign` do: minisign, with the public key and each signature
//! handed around as base64 of minisign's text files, and the signed version in
//! the trusted comment (what `requireSignedVersion` checks).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A fresh minisign key pair (unencrypted: test support only).
pub struct UpdateKey {
    pair: minisign::KeyPair,
}

impl UpdateKey {
    pub fn generate() -> UpdateKey {
        UpdateKey {
            pair: minisign::KeyPair::generate_unencrypted_keypair().unwrap(),
        }
    }

    /// What goes in `tauri.conf.json` `plugins.updater.pubkey` (and the server's
    /// `updates.public_key`): base64 of the public key file's text.
    pub fn public_base64(&self) -> String {
        STANDARD.encode(self.pair.pk.to_box().unwrap().to_string())
    }

    /// The `.sig` file's content for `artifact` released as `version`, base64 as
    /// the updater manifest carries it.
    pub fn sign(&self, artifact: &[u8], file_name: &str, version: &str) -> String {
        self.sign_with_comment(
            artifact,
            &format!("timestamp:1764400000\tfile:{file_name}\tversion:{version}"),
        )
    }

    /// [`UpdateKey::sign`] with any trusted comment (e.g. one without a version).
    pub fn sign_with_comment(&self, artifact: &[u8], trusted_comment: &str) -> String {
        let signature = minisign::sign(
            Some(&self.pair.pk),
            &self.pair.sk,
            std::io::Cursor::new(artifact),
            Some(trusted_comment),
            Some("signature from tauri secret key"),
        )
        .unwrap();
        STANDARD.encode(signature.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(
        public: &str,
        signature: &str,
        artifact: &[u8],
    ) -> Result<(), minisign_verify::Error> {
        let decode = |s: &str| String::from_utf8(STANDARD.decode(s).unwrap()).unwrap();
        let key = minisign_verify::PublicKey::decode(&decode(public))?;
        let signature = minisign_verify::Signature::decode(&decode(signature))?;
        key.verify(artifact, &signature, true)
    }

    #[test]
    fn signatures_verify_as_the_updater_plugin_checks_them_and_only_with_their_key() {
        let key = UpdateKey::generate();
        let artifact = b"\x7fELF an AppImage";
        let signature = key.sign(artifact, "Latchkey.AppImage", "0.2.0");
        verify(&key.public_base64(), &signature, artifact).unwrap();
        assert!(verify(&key.public_base64(), &signature, b"\x7fELF another").is_err());
        let other = UpdateKey::generate();
        assert!(verify(&other.public_base64(), &signature, artifact).is_err());
        let text = String::from_utf8(STANDARD.decode(&signature).unwrap()).unwrap();
        assert!(
            text.contains(
                "trusted comment: timestamp:1764400000\tfile:Latchkey.AppImage\tversion:0.2.0"
            ),
            "{text}"
        );
    }
}
