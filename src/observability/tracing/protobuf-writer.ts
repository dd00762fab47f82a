// The protobuf wire format, as much of it as OTLP spans need: a growable byte buffer that
// writes tags, varints (int64 included), fixed32/fixed64, doubles, strings, ids and
// length-delimited messages whose length is only known once their body is written. It knows
// nothing of OTLP; otlp-common-encoding.ts and otlp-span-encoder.ts say what goes in it.
//
// Only documented Buffer APIs (buf.write, Buffer.byteLength, writeUInt32LE, copy…), never
// Node's undocumented utf8Write/hexWrite, which may change or go in any release. Short ASCII
// strings and hex ids, most of what a span holds, are written byte by byte in JS instead:
// that skips the call into C++ and made encoding ~10 % faster than the utf8Write version
// (buf.write alone was ~10 % slower), measured on the spans of the product route.
import type { HrTime } from '@opentelemetry/api';

/** Wire types (protobuf encoding spec). */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;

/** A field's tag: its number and wire type in one varint (every tag here fits one byte but 16). */
export const tag = (field: number, wireType: number) => (field << 3) | wireType;

/** Bytes a UTF-16 code unit takes at most in UTF-8 (a surrogate pair: 4 bytes for 2 units). */
const MAX_UTF8_PER_UNIT = 3;

/** Strings shorter than this are at most 127 bytes in UTF-8: their length fits one byte. */
const ONE_BYTE_LENGTH_CHARS = Math.floor(127 / MAX_UTF8_PER_UNIT) + 1;

/** Each ASCII hex digit's value, -1 for any other character code below 128. */
const HEX_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUES['0123456789abcdef'.charCodeAt(i)] = i;
  HEX_VALUES['0123456789ABCDEF'.charCodeAt(i)] = i;
}

export class ProtobufWriter {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    // Outside Node's shared 8 KiB pool, as the docs advise for memory retained indefinitely:
    // these buffers are long-lived and reused batch after batch.
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** The bytes written so far, as a buffer of their own (the writer goes on being reused). */
  copyOut(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** An unsigned varint, or an int64 (two's complement, 10 bytes when negative) as protobuf writes it. */
  varint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 127) {
        buf[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    const abs = Math.abs(value);
    let low = abs >>> 0;
    let high = (abs / 4294967296) >>> 0;
    if (value < 0) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 127) {
      buf[this.pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low & 127;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  /** HrTime [seconds, nanoseconds] as fixed64 nanoseconds, exactly (the product exceeds 2^53). */
  time(hrTime: HrTime): void {
    // ns = a × 2^16 + b, with a = ⌊s / 2^16⌋ × 1e9 and b = (s mod 2^16) × 1e9 + nanos, both exact.
    const seconds = hrTime[0];
    const hi = Math.floor(seconds / 65536);
    const a = hi * 1e9;
    const b = (seconds - hi * 65536) * 1e9 + hrTime[1];
    const aLow = a % 65536;
    const bLow = b % 4294967296;
    const t = aLow * 65536 + bLow;
    const low = t % 4294967296;
    const high = (a - aLow) / 65536 + (b - bLow) / 4294967296 + (t - low) / 4294967296;
    this.ensure(8);
    this.buf.writeUInt32LE(low, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** A length-delimited UTF-8 string. */
  string(s: string): void {
    const length = s.length;
    if (length < ONE_BYTE_LENGTH_CHARS) {
      // Written straight after the one byte reserved for its length: no Buffer.byteLength pass.
      // ASCII (nearly every attribute value) is copied here, character by character: for a
      // short string that is cheaper than the call into Node's C++ encoder buf.write makes.
      this.ensure(1 + MAX_UTF8_PER_UNIT * length);
      const buf = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 128) break;
        buf[start + i] = c;
      }
      const n = i === length ? length : buf.write(s, start, 'utf8');
      buf[this.pos] = n;
      this.pos = start + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A trace or span id, hex in the API, bytes on the wire (16 or 8: the length fits one byte). */
  hexId(hex: string): void {
    const bytes = hex.length >>> 1;
    this.ensure(1 + bytes);
    const buf = this.buf;
    const start = this.pos + 1;
    // Decoded here, as for ASCII strings: cheaper than buf.write's call into C++ for 8 or 16
    // bytes. Anything but well-formed hex is left to buf.write, which decides what it becomes.
    let valid = (hex.length & 1) === 0;
    for (let i = 0; valid && i < bytes; i++) {
      const hi = HEX_VALUES[hex.charCodeAt(2 * i)] ?? -1;
      const lo = HEX_VALUES[hex.charCodeAt(2 * i + 1)] ?? -1;
      if ((hi | lo) < 0) valid = false;
      else buf[start + i] = (hi << 4) | lo;
    }
    const n = valid ? bytes : buf.write(hex, start, 'hex');
    buf[this.pos] = n;
    this.pos = start + n;
  }

  bytes(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Bytes already encoded (a cached key, a resource), as they are. */
  raw(bytes: Buffer, start = 0, end = bytes.length): void {
    this.ensure(end - start);
    this.pos += bytes.copy(this.buf, this.pos, start, end);
  }

  /** Reserves one byte for a length; `end` writes it, moving the body when it needs more. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  end(at: number): void {
    const length = this.pos - at - 1;
    if (length < 128) {
      this.buf[at] = length;
      return;
    }
    const size = length < 16384 ? 2 : length < 2097152 ? 3 : length < 268435456 ? 4 : 5;
    this.ensure(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = length;
    let p = at;
    while (v > 127) {
      this.buf[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buf[p] = v;
  }
}
