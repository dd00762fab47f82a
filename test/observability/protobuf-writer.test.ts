// ProtobufWriter (protobuf-writer.ts) decodes ASCII strings and hex ids itself and leaves
// anything else to Buffer's encoders: these tests hold both paths to Buffer's own bytes, so
// the shortcut can never write what buf.write would not. (Whole spans against the stock
// serializer: otlp-span-encoder.test.ts.)
import { describe, expect, it } from 'vitest';
import { ProtobufWriter } from '../../src/observability/tracing/protobuf-writer.ts';

/** What `write` puts in a fresh writer. */
function written(write: (w: ProtobufWriter) => void): Buffer {
  const w = new ProtobufWriter(4);
  write(w);
  return w.copyOut();
}

/** A length-delimited field body as protobuf has it: varint length, then the bytes. */
function delimited(bytes: Buffer): Buffer {
  const length: number[] = [];
  let n = bytes.length;
  while (n > 127) {
    length.push((n & 127) | 128);
    n >>>= 7;
  }
  length.push(n);
  return Buffer.concat([Buffer.from(length), bytes]);
}

describe('ProtobufWriter', () => {
  it('writes a string as its UTF-8 bytes after their length: ASCII, non-ASCII, lone surrogates, at and around the one-byte-length limit', () => {
    const strings = ['', 'a', 'GET /api/products/:id', 'hôte-1', 'é'.repeat(42), '€'.repeat(42), '😀'.repeat(21), 'x'.repeat(42), 'x'.repeat(43)];
    strings.push('a\ud800b', 'x'.repeat(41) + 'é', 'y'.repeat(200), 'ü'.repeat(100));
    for (const s of strings) expect(written((w) => w.string(s)).equals(delimited(Buffer.from(s, 'utf8'))), JSON.stringify(s.slice(0, 20))).toBe(true);
  });

  it("writes an id as Buffer's hex decoding after its length: trace and span ids, upper case, and malformed hex as buf.write has it", () => {
    const ids = ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', '0AF7651916CD43DD', '', 'abc', 'zz11', '11zz', 'b7ad6b71692033é1'];
    for (const hex of ids) expect(written((w) => w.hexId(hex)).equals(delimited(Buffer.from(hex, 'hex'))), hex).toBe(true);
  });

  it('grows its buffer keeping what was written, and moves a message body when its length needs more than one byte', () => {
    const w = new ProtobufWriter(4);
    w.byte(0x0a);
    const at = w.begin();
    for (let i = 0; i < 300; i++) w.byte(i & 0x7f);
    w.end(at);
    const body = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0x7f));
    expect(w.copyOut().equals(Buffer.concat([Buffer.from([0x0a]), delimited(body)]))).toBe(true);
  });
});
