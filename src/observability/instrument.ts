// The observability layer's `--import` entry: `node --import <this file> server.ts`. It
// must run before the service's own modules, so OpenTelemetry is set up before the
// libraries it instruments are imported.
//
// The import-in-the-middle hook is what lets the stock ioredis instrumentation patch the
// ESM import of ioredis (without it, ioredis silently gets no spans). It is limited to the
// modules instrumented that way, so every other import stays untouched and fast.
//
// service.name and service.version default to the name and version in the package.json
// nearest to the entry script (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { register } from 'import-in-the-middle/register-hooks.mjs';
import { startTracing } from './tracing/sdk.ts';

function nearestPackage(from: string): { name?: string; version?: string } {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      } catch {
        return {};
      }
    }
    if (dirname(dir) === dir) return {};
  }
}

const entry = process.argv[1];
const pkg = nearestPackage(entry ? dirname(entry) : process.cwd());
register({ include: ['ioredis'] });
startTracing({ serviceName: pkg.name ?? 'unknown_service:node', serviceVersion: pkg.version ?? '0.0.0' });
// With a DSN, @sentry/node (~20 MB of heap) is loaded here, while the service's own modules
// load, rather than later at startup when the error reporting is set up: loaded late, it
// pushed the heap past V8's first limit once the process was already idle, the full GC
// that followed shrank the young generation to half, and the server then ran ~35 % more
// scavenges under load (--trace-gc), which the bench billed to Sentry (~1.5 µs of CPU a
// request on the liveness probe). Without a DSN it is still never loaded.
if (process.env.SENTRY_DSN?.trim()) await import('@sentry/node');
