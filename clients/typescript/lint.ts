// npm run openapi:lint — the OpenAPI document through Redocly's CLI with its recommended
// rules and no ignore file, failing on any problem, warnings included (redocly itself exits 0
// on warnings). Lints the committed clients/typescript/openapi.json, which the client test
// keeps identical to what /docs/openapi.json serves; `npm run openapi:lint -- <file>` lints another.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');
const file = process.argv[2] ?? join(ROOT, 'clients/typescript/openapi.json');

interface Report {
  totals: { errors: number; warnings: number; ignored: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer?: string }[] }[];
}

export function lintOpenApi(path: string): Report {
  const bin = join(ROOT, 'node_modules/.bin/redocly');
  let out: string;
  try {
    out = execFileSync(bin, ['lint', path, '--extends=recommended', '--format=json'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      // No usage reports or update checks from a CI run.
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
  } catch (error) {
    // Exit code 1 on errors: the report is still on stdout.
    out = (error as { stdout?: string }).stdout ?? '';
  }
  return JSON.parse(out) as Report;
}

if (import.meta.main) {
  const report = lintOpenApi(file);
  for (const p of report.problems) console.log(`${p.severity} ${p.ruleId}: ${p.message} (${p.location[0]?.pointer ?? ''})`);
  console.log(`redocly lint (recommended rules) ${file}: ${report.totals.errors} errors, ${report.totals.warnings} warnings, ${report.totals.ignored} ignored`);
  if (report.totals.errors + report.totals.warnings + report.totals.ignored > 0) process.exit(1);
}
