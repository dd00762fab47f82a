// An OTLP/HTTP protobuf receiver on loopback, decoding with the official definitions, for
// tests that start a server process and check what it exported. `hang: true` makes a
// collector that accepts connections and never answers (a shutdown must not wait on it).
import { createServer, type Server } from 'node:http';
import { decodeTraceRequest } from './otlp-proto.ts';

interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: { stringValue?: string; intValue?: string } }[];
}
interface DecodedRequest {
  resourceSpans?: { resource?: { attributes?: { key: string; value: { stringValue?: string } }[] }; scopeSpans?: { spans?: DecodedSpan[] }[] }[];
}
export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, string | undefined>;
  serviceName: string | undefined;
}

const hex = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('hex');

export interface OtlpReceiver {
  server: Server;
  endpoint: string;
  spans: Span[];
  /** Export requests received (a hanging receiver counts them too). */
  requests: number;
  close(): Promise<void>;
}

export async function startOtlpReceiver(options: { hang?: boolean } = {}): Promise<OtlpReceiver> {
  const spans: Span[] = [];
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    // A collector that accepts and never answers: the request is read, the answer never comes.
    if (options.hang) return;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.headers['content-type'] === 'application/x-protobuf') {
        const message = decodeTraceRequest<DecodedRequest>(Buffer.concat(chunks));
        for (const rs of message.resourceSpans ?? []) {
          const serviceName = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue;
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              const attributes = Object.fromEntries((s.attributes ?? []).map((a) => [a.key, a.value.stringValue ?? a.value.intValue]));
              spans.push({ traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId), name: s.name, attributes, serviceName });
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    server,
    endpoint: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    spans,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function eventually<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
