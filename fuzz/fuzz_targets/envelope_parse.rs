//! Feeds arbitrary bytes to the envelope parser and to `open`: they must
//! return an error, never panic, and never accept forged bytes.
#![no_main]

use latchkey_vault::envelope::{self, EnvelopeHeader};
use latchkey_vault::{KdfParams, RecordContext, SlotId, UserIdentity, VaultKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = EnvelopeHeader::parse(data);
    let key = VaultKey::from_raw_for_tests([0x42; 32], KdfParams::CURRENT);
    let (Ok(identity), Ok(slot)) = (
        UserIdentity::new("https://fuzz.latchkey.example", "fuzzer"),
        SlotId::new("salesforce", "production"),
    ) else {
        return;
    };
    let context = RecordContext::token_set(identity, slot, 1);
    if envelope::open(&key, &context, data).is_ok() {
        // Only a genuine seal under this key opens; random bytes forging a
        // Poly1305 tag would be a catastrophic bug.
        panic!("forged envelope accepted");
    }
});
