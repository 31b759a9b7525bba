//! Random bytes straight from the OS CSPRNG (getrandom), never a userspace PRNG.

use rand::TryRngCore;
use rand::rngs::OsRng;

use crate::VaultError;

pub(crate) fn fill(buf: &mut [u8]) -> Result<(), VaultError> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|e| VaultError::RandomUnavailable {
            reason: e.to_string(),
        })
}
