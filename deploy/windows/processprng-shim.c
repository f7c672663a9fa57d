/*
 * bcryptprimitives.dll with only ProcessPrng, for running scopeflow.exe under Wine versions
 * that lack it (Wine 8, Debian 12's wine64). Rust's standard library draws its random numbers
 * (HashMap seeds) from bcryptprimitives.dll!ProcessPrng, present on Windows 10 and later; older
 * Wine refuses to start the .exe without it. This shim answers through RtlGenRandom
 * (advapi32!SystemFunction036), which every Wine has. Never needed, nor shipped, on Windows:
 * scripts/windows-smoke.sh builds it and puts it beside the .exe only when the installed Wine
 * cannot start the .exe without it.
 *
 *   x86_64-w64-mingw32-gcc -O2 -shared -o bcryptprimitives.dll processprng-shim.c -ladvapi32
 */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
