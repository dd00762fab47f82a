// A loopback TCP proxy a test puts between the app and a real dependency (Postgres, the
// embedded PGlite socket, Redis) to give it the failures production gives:
//
//   const proxy = await startTcpProxy(databaseUrl);
//   const db = new Database({ url: proxy.rewrite(databaseUrl), poolSize: 2 });
//   await proxy.cut();      // unreachable: the listener is closed, every piped socket destroyed (ECONNREFUSED, resets)
//   await proxy.restore();  // reachable again, on the same port
//   proxy.hang();           // a black hole: connections are accepted and never answered
//   await proxy.close();
//
// `accepted` counts the connections it accepted, so a test can tell how many times the
// app really went to the dependency.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export type ProxyMode = 'forward' | 'hang' | 'cut';

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  readonly mode: ProxyMode;
  /** Connections accepted since the start (in any mode). */
  readonly accepted: number;
  /** Connections open right now (client sides). */
  readonly open: number;
  /** `url` with its host and port replaced by the proxy's (user, password, path kept). */
  rewrite(url: string): string;
  /** Closes the listener and destroys every socket: new connects are refused, open ones reset. */
  cut(): Promise<void>;
  /** Listens again on the same port and forwards; connections held by `hang` are destroyed. */
  restore(): Promise<void>;
  /** Stops answering: open connections stop forwarding both ways, new ones are accepted and held silent. */
  hang(): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream?: Socket;
}

const DEFAULT_PORTS: Record<string, number> = { 'postgres:': 5432, 'postgresql:': 5432, 'redis:': 6379 };

/** A proxy to the host and port of `targetUrl` (postgres://…, redis://…), listening on 127.0.0.1. */
export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const targetHost = target.hostname.replace(/^\[|\]$/g, '');
  const targetPort = Number(target.port) || DEFAULT_PORTS[target.protocol];
  if (!targetPort) throw new Error(`tcp proxy: no port in the target URL (${target.protocol}//${target.host})`);
  const pairs = new Set<Pair>();
  let mode: ProxyMode = 'forward';
  let accepted = 0;
  let port = 0;

  const drop = (pair: Pair) => {
    pair.client.destroy();
    pair.upstream?.destroy();
    pairs.delete(pair);
  };

  const onConnection = (client: Socket) => {
    accepted++;
    const pair: Pair = { client };
    pairs.add(pair);
    client.on('error', () => drop(pair));
    client.on('close', () => drop(pair));
    if (mode === 'hang') {
      // Accepted by the kernel and by us, never read, never answered.
      client.pause();
      return;
    }
    const upstream = createConnection({ host: targetHost, port: targetPort });
    pair.upstream = upstream;
    upstream.on('error', () => drop(pair));
    upstream.on('close', () => drop(pair));
    client.pipe(upstream);
    upstream.pipe(client);
  };

  let server: Server = createServer(onConnection);
  const listen = (s: Server, p: number) =>
    new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.listen({ host: '127.0.0.1', port: p }, () => {
        s.off('error', reject);
        resolve((s.address() as AddressInfo).port);
      });
    });
  const stopListening = (s: Server) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()));
  const dropAll = () => {
    for (const pair of [...pairs]) drop(pair);
  };

  port = await listen(server, 0);

  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    rewrite(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async cut() {
      mode = 'cut';
      const closing = stopListening(server);
      dropAll();
      await closing;
    },
    async restore() {
      if (mode === 'hang') dropAll();
      mode = 'forward';
      if (!server.listening) {
        server = createServer(onConnection);
        await listen(server, port);
      }
    },
    async hang() {
      if (mode === 'cut') {
        server = createServer(onConnection);
        await listen(server, port);
      }
      mode = 'hang';
      for (const { client, upstream } of pairs) {
        // Both ways silent, both sockets kept open: what a peer behind a dead link looks like.
        client.unpipe();
        upstream?.unpipe();
        client.pause();
        upstream?.pause();
      }
    },
    async close() {
      mode = 'cut';
      const closing = stopListening(server);
      dropAll();
      await closing;
    },
  };
}
