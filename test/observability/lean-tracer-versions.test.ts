// The lean tracer (lean-tracer.ts, lean-span.ts) is a port of @opentelemetry/sdk-trace's
// Tracer and SpanImpl, which lean on @opentelemetry/core's attribute and time helpers. It
// was ported and measured against the versions below: another version may change a rule
// the port copies (limits, status, times, the processor calls) or fix the allocations it
// exists for (README, Performance, "Exit plan for the lean tracer"). This test fails on any
// other installed version so that the upgrade is a decision, not an accident.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The versions the port was made and measured against. */
const PORTED_AGAINST = {
  '@opentelemetry/sdk-trace': '3.1.1',
  '@opentelemetry/core': '3.1.1',
} as const;

// Resolved as the lean tracer itself resolves them (a nested copy elsewhere does not count).
const requireFromTracer = createRequire(new URL('../../src/observability/tracing/lean-tracer.ts', import.meta.url));

/** The installed version of a package whose exports hide its package.json: found above its entry file. */
function installedVersion(name: string): string {
  for (let dir = dirname(requireFromTracer.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    } catch {
      // no package.json at this level: keep going up
    }
  }
  throw new Error(`no package.json found for ${name}`);
}

describe('the lean tracer is a port of exactly these SDK versions', () => {
  for (const [name, version] of Object.entries(PORTED_AGAINST)) {
    it(`${name} is ${version}`, () => {
      const installed = installedVersion(name);
      expect(
        installed,
        `${name} ${installed} is installed; the lean tracer was ported and measured against ${version}. ` +
          'Re-run the differential tests (test/observability/lean-tracer.test.ts) and the bench (npm run bench), ' +
          "check the README's exit plan (has upstream fixed the per-attribute WeakSet and the double copy in startSpan? then delete the lean tracer), " +
          'then update the pinned version in test/observability/lean-tracer-versions.test.ts.',
      ).toBe(version);
    });
  }
});
