/*
 * A stand-in for Windows' bcryptprimitives.dll, for running Latchkey's Windows test
 * binaries under Debian's Wine 8.0 only (scripts/wine-run.sh; docs/platforms.md).
 *
 * Rust's standard library (1.78 and later) takes its randomness from ProcessPrng in
 * bcryptprimitives.dll, which Windows 10+ ships and Wine 8.0 does not: without this,
 * every test binary stops at load. ProcessPrng here asks bcrypt.dll (which Wine has)
 * for the system RNG, as Windows' own does. Never shipped: installers and releases
 * run on real Windows with the real DLL.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x7fffffffu ? 0x7fffffffu : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
