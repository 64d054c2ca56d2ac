// CRC-32C (Castagnoli), the checksum of Kafka RecordBatch v2 (bytes 21..end of a batch).
// It is not the plain CRC-32 of zlib: the polynomial is 0x1EDC6F41 (reflected 0x82F63B78).
//
// The implementation behind `crc32c` is chosen by scripts/bench-crc.ts; see README "CRC-32C".
// `crc32cUpdate` chains over pieces so a caller never has to concatenate buffers to checksum them.
//
// Two backends, one result: `@node-rs/crc32` (native, SIMD; a prebuilt binary per platform in the
// registry package) runs about 2x faster than the portable `crc-32/crc32c.js` at 1 KiB and 3.5x
// from 16 KiB up (Node 20, x64), but each call crosses into native code, which costs more than the
// whole sum of a ~100-byte buffer (there it is 2x slower). The two meet near 256 bytes, so pieces
// shorter than NATIVE_MIN_BYTES go to crc-32, longer ones to the native code. Both use the standard
// initial value and final xor and take the previous result as the seed, so chaining may mix them.
// Where no prebuilt binary loads (an unusual platform), everything runs on crc-32.

import { createRequire } from 'node:module';
import CRC32C from 'crc-32/crc32c.js';

/** Pieces of at least this many bytes go to the native backend (crossover measured by bench:crc). */
export const NATIVE_MIN_BYTES = 256;

type NativeCrc32c = (input: Uint8Array, initialState?: number | null) => number;

function loadNative(): NativeCrc32c | null {
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: unknown };
    return typeof mod.crc32c === 'function' ? (mod.crc32c as NativeCrc32c) : null;
  } catch {
    return null;
  }
}

const native = loadNative();

/** Which backend serves the long pieces: '@node-rs/crc32', or 'crc-32' where it did not load. */
export const CRC32C_BACKEND: '@node-rs/crc32' | 'crc-32' = native === null ? 'crc-32' : '@node-rs/crc32';

/** The backends on their own, for tests and the benchmark. `seed` is a previous result (0 to start). */
export const crc32cBackends = {
  portable(buf: Uint8Array, seed: number): number {
    return CRC32C.buf(buf, seed | 0) >>> 0;
  },
  native:
    native === null
      ? null
      : function nativeCrc32c(buf: Uint8Array, seed: number): number {
          return native(buf, seed >>> 0) >>> 0;
        },
} as const;

/** CRC-32C of `buf[start, end)`, as an unsigned 32-bit integer. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  return crc32cUpdate(0, buf, start, end);
}

/** Continue a CRC-32C over another piece: `crc32cUpdate(crc32c(a), b) === crc32c(a ++ b)`. */
export function crc32cUpdate(crc: number, buf: Uint8Array, start = 0, end = buf.length): number {
  const piece = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
  if (native !== null && piece.length >= NATIVE_MIN_BYTES) return native(piece, crc >>> 0) >>> 0;
  return CRC32C.buf(piece, crc | 0) >>> 0;
}
