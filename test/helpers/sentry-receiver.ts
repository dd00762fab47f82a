// A stand-in for Sentry on loopback: accepts envelopes at POST /api/<project>/envelope/ (the
// URL the SDK derives from a DSN), gunzips them when the SDK compressed them, and decodes
// the newline-delimited format (a header line, then an item header and payload per item;
// a payload with a `length` is read by bytes). `hang` (at start or set later) accepts and
// never answers, like a Sentry that is up but stuck; after `close()` the DSN's port refuses
// connections, like a Sentry that is down.
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';

export interface EnvelopeItem {
  type: string;
  headers: Record<string, unknown>;
  /** The payload, parsed as JSON when it is JSON. */
  payload: unknown;
}

export interface Envelope {
  url: string;
  headers: Record<string, unknown>;
  items: EnvelopeItem[];
  /** The envelope's bytes as received (after gunzip): what secrets must not be found in. */
  raw: Buffer;
  /** When it arrived (Date.now()), to order it against a child process's log lines. */
  receivedAt: number;
}

/** The parts of an error event the tests read. */
export interface SentryEvent {
  event_id: string;
  level?: string;
  release?: string;
  environment?: string;
  tags?: Record<string, string>;
  user?: Record<string, unknown>;
  contexts?: { trace?: { trace_id?: string; span_id?: string } } & Record<string, unknown>;
  exception?: { values?: { type?: string; value?: string; mechanism?: { type?: string; handled?: boolean } }[] };
  sdk?: { integrations?: string[] };
  [key: string]: unknown;
}

export interface SentryReceiver {
  server: Server;
  /** A DSN pointing here. */
  dsn: string;
  envelopes: Envelope[];
  /** Requests received (a hanging receiver counts them too). */
  readonly requests: number;
  /** While true, requests are accepted and never answered. */
  hang: boolean;
  /** Payloads of every `event` item (errors). */
  events(): SentryEvent[];
  /** Items of one type (`span`, `transaction`, `client_report`, `sessions`…). */
  items(type: string): EnvelopeItem[];
  /** Resolves once at least `count` events arrived. */
  waitForEvents(count: number, timeoutMs?: number): Promise<SentryEvent[]>;
  close(): Promise<void>;
}

export function decodeEnvelope(raw: Buffer, url = ''): Envelope {
  let offset = 0;
  const line = (): Buffer | undefined => {
    if (offset >= raw.length) return undefined;
    const end = raw.indexOf(0x0a, offset);
    const chunk = raw.subarray(offset, end === -1 ? raw.length : end);
    offset = end === -1 ? raw.length : end + 1;
    return chunk;
  };
  const json = (b: Buffer): unknown => {
    try {
      return JSON.parse(b.toString('utf8')) as unknown;
    } catch {
      return b.toString('utf8');
    }
  };
  const headers = JSON.parse(line()?.toString('utf8') ?? '{}') as Record<string, unknown>;
  const items: EnvelopeItem[] = [];
  for (let header = line(); header; header = line()) {
    if (header.length === 0) continue;
    const itemHeaders = JSON.parse(header.toString('utf8')) as Record<string, unknown>;
    let payload: Buffer;
    if (typeof itemHeaders.length === 'number') {
      payload = raw.subarray(offset, offset + itemHeaders.length);
      offset += itemHeaders.length;
      if (raw[offset] === 0x0a) offset++;
    } else {
      payload = line() ?? Buffer.alloc(0);
    }
    items.push({ type: String(itemHeaders.type), headers: itemHeaders, payload: json(payload) });
  }
  return { url, headers, items, raw, receivedAt: Date.now() };
}

export async function startSentryReceiver(options: { hang?: boolean; project?: string } = {}): Promise<SentryReceiver> {
  const project = options.project ?? '4242';
  const envelopes: Envelope[] = [];
  let requests = 0;
  let hang = options.hang ?? false;
  const server = createServer((req, res) => {
    requests++;
    if (hang) return; // read nothing, answer never
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'POST' || path !== `/api/${project}/envelope/`) {
        res.writeHead(404).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      envelopes.push(decodeEnvelope(body, req.url ?? ''));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const items = (type: string) => envelopes.flatMap((e) => e.items.filter((i) => i.type === type));
  const events = () => items('event').map((i) => i.payload as SentryEvent);
  return {
    server,
    dsn: `http://publickey@127.0.0.1:${port}/${project}`,
    envelopes,
    get requests() {
      return requests;
    },
    get hang() {
      return hang;
    },
    set hang(value: boolean) {
      hang = value;
    },
    events,
    items,
    async waitForEvents(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (events().length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} Sentry events within ${timeoutMs} ms, got ${events().length}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return events();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
