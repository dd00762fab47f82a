// A small parser for what GET /metrics answers, in either exposition format (Prometheus
// text 0.0.4 or OpenMetrics 1.0), so tests read metric values without depending on the
// order prom-client prints labels in: every sample's labels become an object, and a series
// is identified by its name and its labels sorted by name.
//
//   const before = await scrape(app);
//   … requests …
//   const after = await scrape(app);
//   expect(after.value('orders_total', { tenant_id, status: 'paid' }) - before.value(…)).toBe(1);
//   expect(diff(before, after, 'orders_total')).toEqual({ [seriesKey('orders_total', {…})]: 1 });
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

export type Labels = Record<string, string>;

export interface Exemplar {
  labels: Labels;
  value: number;
  timestamp?: number;
}

export interface Sample {
  /** The sample's own name (`http_requests_total`, `…_bucket`, `…_count`). */
  name: string;
  labels: Labels;
  value: number;
  timestamp?: number;
  exemplar?: Exemplar;
  /** The line as it was written. */
  line: string;
}

export interface Family {
  /** As the TYPE line names it (OpenMetrics counters have no `_total` here). */
  name: string;
  type?: string;
  help?: string;
  samples: Sample[];
}

/** `name{a="1",b="2"}` with the labels sorted by name: one string per series. */
export function seriesKey(name: string, labels: Labels = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return parts.length ? `${name}{${parts.join(',')}}` : name;
}

/** True when `labels` has every label of `match` with the same value. */
export function labelsMatch(labels: Labels, match: Labels): boolean {
  return Object.entries(match).every(([k, v]) => labels[k] === v);
}

function parseNumber(text: string, line: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new Error(`not a number: ${JSON.stringify(text)} in ${JSON.stringify(line)}`);
  return n;
}

/** Parses `{a="x",b="y\"z"}` starting at text[at] === '{'; returns the labels and the index after '}'. */
function parseLabels(text: string, at: number, line: string): { labels: Labels; end: number } {
  const labels: Labels = {};
  let i = at + 1;
  const fail = (why: string): never => {
    throw new Error(`bad labels (${why}) at ${i} in ${JSON.stringify(line)}`);
  };
  for (;;) {
    while (text[i] === ' ') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i))?.[0] ?? fail('label name');
    i += name.length;
    if (text[i] !== '=' || text[i + 1] !== '"') fail('expected ="');
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) fail('unterminated value');
      if (c === '"') break;
      if (c === '\\') {
        const next = text[i + 1];
        value += next === 'n' ? '\n' : next === '"' ? '"' : next === '\\' ? '\\' : fail('bad escape');
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    i++; // closing quote
    if (name in labels) fail(`duplicate label ${name}`);
    labels[name] = value;
    while (text[i] === ' ') i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail('expected , or }');
  }
}

function parseSample(line: string): Sample {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (!name) throw new Error(`bad sample line: ${JSON.stringify(line)}`);
  let i = name.length;
  let labels: Labels = {};
  if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, line));
  const hash = line.indexOf(' # ', i);
  const main = (hash === -1 ? line.slice(i) : line.slice(i, hash)).trim().split(/ +/);
  if (main.length < 1 || main.length > 2 || line[i] !== ' ') throw new Error(`bad sample line: ${JSON.stringify(line)}`);
  const sample: Sample = { name, labels, value: parseNumber(main[0]!, line), line };
  if (main[1] !== undefined) sample.timestamp = parseNumber(main[1], line);
  if (hash !== -1) {
    const rest = line.slice(hash + 3);
    if (rest[0] !== '{') throw new Error(`bad exemplar: ${JSON.stringify(line)}`);
    const { labels: exLabels, end } = parseLabels(rest, 0, line);
    const parts = rest.slice(end).trim().split(/ +/);
    if (parts.length < 1 || parts.length > 2) throw new Error(`bad exemplar: ${JSON.stringify(line)}`);
    sample.exemplar = { labels: exLabels, value: parseNumber(parts[0]!, line) };
    if (parts[1] !== undefined) sample.exemplar.timestamp = parseNumber(parts[1], line);
  }
  return sample;
}

const unescapeHelp = (text: string) => text.replace(/\\(n|\\|")/g, (_m, c: string) => (c === 'n' ? '\n' : c));

/** One scrape, parsed. Throws on any line it cannot read (so a malformed exposition fails the test). */
export class Exposition {
  readonly text: string;
  readonly families = new Map<string, Family>();
  readonly samples: Sample[] = [];
  /** True when the text ended with OpenMetrics' `# EOF`. */
  readonly eof: boolean;

  constructor(text: string) {
    this.text = text;
    let eof = false;
    let current: Family | undefined;
    const family = (name: string) => {
      let f = this.families.get(name);
      if (!f) this.families.set(name, (f = { name, samples: [] }));
      return f;
    };
    for (const line of text.split('\n')) {
      if (line === '') continue;
      if (eof) throw new Error(`content after # EOF: ${JSON.stringify(line)}`);
      if (line === '# EOF') {
        eof = true;
        continue;
      }
      if (line.startsWith('#')) {
        const m = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/.exec(line);
        if (!m) continue; // a comment
        const f = family(m[2]!);
        if (m[1] === 'TYPE') f.type = m[3];
        else if (m[1] === 'HELP') f.help = unescapeHelp(m[3] ?? '');
        current = f;
        continue;
      }
      const sample = parseSample(line);
      this.samples.push(sample);
      // A sample belongs to the family being described when its name extends that family's
      // (`x_bucket`, `x_total`…); otherwise to a family of its own name (untyped).
      const owner = current && (sample.name === current.name || sample.name.startsWith(`${current.name}_`)) ? current : family(sample.name);
      owner.samples.push(sample);
    }
    this.eof = eof;
  }

  /** The TYPE of a family (by its TYPE-line name), if declared. */
  type(family: string): string | undefined {
    return this.families.get(family)?.type;
  }

  /** Samples named `name` whose labels include `match`. */
  series(name: string, match: Labels = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && labelsMatch(s.labels, match));
  }

  /** The one sample named `name` whose labels are exactly `labels` (undefined if absent; throws if repeated). */
  get(name: string, labels: Labels = {}): Sample | undefined {
    const key = seriesKey(name, labels);
    const found = this.samples.filter((s) => s.name === name && seriesKey(s.name, s.labels) === key);
    if (found.length > 1) throw new Error(`duplicate series ${key}`);
    return found[0];
  }

  /** Value of the series with exactly these labels; 0 when absent (a counter not yet incremented). */
  value(name: string, labels: Labels = {}): number {
    return this.get(name, labels)?.value ?? 0;
  }

  /** Sum over every sample named `name` whose labels include `match`. */
  sum(name: string, match: Labels = {}): number {
    return this.series(name, match).reduce((acc, s) => acc + s.value, 0);
  }

  /** Distinct values of `label` among samples named `name`. */
  labelValues(name: string, label: string): Set<string> {
    return new Set(this.series(name).flatMap((s) => (label in s.labels ? [s.labels[label]!] : [])));
  }

  /** Every series key (`name{sorted labels}`) in the scrape. */
  keys(filter: (s: Sample) => boolean = () => true): Set<string> {
    return new Set(this.samples.filter(filter).map((s) => seriesKey(s.name, s.labels)));
  }

  /**
   * A histogram series' buckets in the order printed, `le` parsed (+Inf → Infinity), for the
   * series whose labels (without `le`) are exactly `labels`.
   */
  buckets(histogram: string, labels: Labels = {}): { le: number; value: number; sample: Sample }[] {
    const key = seriesKey(histogram, labels);
    return this.samples
      .filter((s) => {
        if (s.name !== `${histogram}_bucket` || !('le' in s.labels)) return false;
        const { le: _le, ...rest } = s.labels;
        return seriesKey(histogram, rest) === key;
      })
      .map((s) => ({ le: parseNumber(s.labels.le!, s.line), value: s.value, sample: s }));
  }
}

export function parseExposition(text: string): Exposition {
  return new Exposition(text);
}

/**
 * Per series named `name` (or passing the filter; every series when omitted), the change
 * from `before` to `after`, keyed by seriesKey; unchanged series are left out, absent ones
 * count as 0.
 */
export function diff(before: Exposition, after: Exposition, name?: string | ((s: Sample) => boolean)): Record<string, number> {
  const keep = typeof name === 'function' ? name : (s: Sample) => name === undefined || s.name === name;
  const values = (e: Exposition) => new Map(e.samples.filter(keep).map((s) => [seriesKey(s.name, s.labels), s.value]));
  const a = values(after);
  const b = values(before);
  const out: Record<string, number> = {};
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const d = (a.get(key) ?? 0) - (b.get(key) ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

export const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

/** GET /metrics through `app.inject`, parsed; `format` picks the Accept header. Throws unless 200. */
export async function scrape(app: FastifyInstance, format: 'prometheus' | 'openmetrics' = 'prometheus'): Promise<Exposition & { contentType: string }> {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: format === 'openmetrics' ? { accept: OPENMETRICS } : {} });
  if (res.statusCode !== 200) throw new Error(`GET /metrics answered ${res.statusCode}: ${res.body.slice(0, 200)}`);
  return Object.assign(new Exposition(res.body), { contentType: String(res.headers['content-type']) });
}

/** A tool of Debian's `prometheus` package: /usr/bin/<name>, else the first <name> on PATH; undefined when absent. */
export function findTool(name: 'promtool' | 'prometheus' | 'amtool'): string | undefined {
  const candidates = [
    `/usr/bin/${name}`,
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, name)),
  ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

export const findPromtool = () => findTool('promtool');

/**
 * CI sets GLASSBOX_REQUIRE_PROMETHEUS=1 (.ci/run installs Debian's `prometheus`): there a
 * missing promtool or Prometheus fails the run. Elsewhere (a laptop without the package) the
 * tests that need them are skipped with a warning, so `npm test` works on a fresh machine.
 */
export const PROMETHEUS_REQUIRED = process.env.GLASSBOX_REQUIRE_PROMETHEUS === '1';

/** Whether to run a test that needs `tool`: yes when present or required (then it fails loudly). */
export function runsWith(tool: string | undefined, what: string): boolean {
  if (tool || PROMETHEUS_REQUIRED) return true;
  console.warn(`skipping the ${what} tests: Debian's \`prometheus\` package is not installed (CI installs it and sets GLASSBOX_REQUIRE_PROMETHEUS=1)`);
  return false;
}

export const PROMTOOL_MISSING =
  "promtool not found (looked in /usr/bin and on PATH): install Debian's `prometheus` package (apt-get install prometheus), as CI does";

/** Pipes `text` into `promtool check metrics`; its exit code and what it printed (its lint findings). */
export function promtoolCheckMetrics(promtool: string, text: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(text);
  });
}
