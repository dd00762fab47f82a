// npm run flamegraph -- <in.cpuprofile|in.pb.gz> <out.svg> [--min=0.5] [--title=…]
// Draws a flame graph (SVG) from a V8 .cpuprofile, as taken by POST /admin/profile/cpu or
// `npm run profile`, or from a pprof profile (gzipped or not: `format=pprof`, also narrowed
// with `route=`, so one endpoint gets its own picture): each box a function in a stack, its
// width its share of the samples, its parents below it. Boxes narrower than --min percent
// are left out, so the picture stays small enough to commit and read. Colours: our code
// (src/) orange, dependencies (node_modules) blue, Node's own and V8's grey, idle and GC pale.
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: CpuNode[];
  samples: number[];
  timeDeltas: number[];
}
/** One sampled stack, root first, and its weight (µs for time; the pprof unit otherwise). */
interface Stack {
  frames: { name: string; url: string }[];
  weight: number;
}
interface Frame {
  name: string;
  url: string;
  self: number;
  total: number;
  children: Map<string, Frame>;
}

const [input, output, ...flags] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: npm run flamegraph -- <in.cpuprofile|in.pb.gz> <out.svg> [--min=0.5] [--title=…]');
  process.exit(2);
}
const flag = (name: string) => flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
const MIN_PERCENT = Number(flag('min') ?? 0.5);
const TITLE = flag('title') ?? input.split('/').at(-1)!;

const shortUrl = (url: string) => url.replace(/^(file:\/\/)?\/.*?\/(src|node_modules|bench|test)\//, '$2/');
const frameName = (name: string, url: string, line: number) => `${name || '(anonymous)'}${url ? ` ${shortUrl(url)}:${line}` : ''}`;

/** V8's .cpuprofile: a node tree; each sample is worth the delta to the next one (timeDeltas, µs). */
function cpuProfileStacks(profile: CpuProfile): { stacks: Stack[]; unit: string } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const time = new Map<number, number>();
  profile.samples.forEach((id, i) => time.set(id, (time.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0)));
  const stacks: Stack[] = [];
  for (const [id, weight] of time) {
    const frames: Stack['frames'] = [];
    // Up to, not including, V8's (root) node.
    for (let cur: number | undefined = id; cur !== undefined && parentOf.has(cur); cur = parentOf.get(cur)) {
      const { functionName, url, lineNumber } = byId.get(cur)!.callFrame;
      frames.unshift({ name: frameName(functionName, url, lineNumber + 1), url });
    }
    stacks.push({ frames, weight });
  }
  return { stacks, unit: 'microseconds' };
}

/** pprof: samples list their locations leaf first; weighed by wall (or cpu) time when there is one. */
function pprofStacks(profile: Profile): { stacks: Stack[]; unit: string } {
  const str = (i: number | bigint) => profile.stringTable.strings[Number(i)] ?? '';
  const types = profile.sampleType.map((t) => str(t.type));
  const index = ['wall', 'cpu'].map((t) => types.indexOf(t)).find((i) => i >= 0) ?? types.length - 1;
  const unit = str(profile.sampleType[index]!.unit);
  const scale = unit === 'nanoseconds' ? 1 / 1000 : 1;
  const functions = new Map(profile.function.map((f) => [Number(f.id), f]));
  const locations = new Map(profile.location.map((l) => [Number(l.id), l]));
  const stacks = profile.sample.map((sample) => {
    const frames: Stack['frames'] = [];
    for (const id of sample.locationId) {
      // A location's lines are innermost first (inlined calls).
      for (const line of locations.get(Number(id))?.line ?? []) {
        const fn = functions.get(Number(line.functionId));
        const url = fn ? str(fn.filename) : '';
        frames.unshift({ name: frameName(fn ? str(fn.name) : '', url, Number(line.line)), url });
      }
    }
    return { frames, weight: Number(sample.value[index] ?? 0) * scale };
  });
  return { stacks, unit: scale === 1 ? unit : 'microseconds' };
}

const raw = readFileSync(input);
const gzipped = raw[0] === 0x1f && raw[1] === 0x8b;
const { stacks, unit } =
  gzipped || !raw.subarray(0, 1).toString().startsWith('{')
    ? pprofStacks(Profile.decode(gzipped ? gunzipSync(raw) : raw))
    : cpuProfileStacks(JSON.parse(raw.toString('utf8')) as CpuProfile);

// Merge every stack into one tree keyed by function and place.
const root: Frame = { name: 'all', url: '', self: 0, total: 0, children: new Map() };
for (const { frames, weight } of stacks) {
  let frame = root;
  root.total += weight;
  for (const { name, url } of frames) {
    let next = frame.children.get(name);
    if (!next) frame.children.set(name, (next = { name, url, self: 0, total: 0, children: new Map() }));
    next.total += weight;
    frame = next;
  }
  frame.self += weight;
}
if (root.total === 0) {
  console.error(`${input}: no samples`);
  process.exit(1);
}
const totalText =
  unit === 'microseconds'
    ? `${(root.total / 1e6).toFixed(1)} s of samples`
    : unit === 'bytes'
      ? `${(root.total / 1048576).toFixed(1)} MiB`
      : `${root.total} ${unit}`;

const WIDTH = 1600;
const ROW = 17;
const minTime = (root.total * MIN_PERCENT) / 100;
const colour = (f: Frame) => {
  if (/^\((idle|garbage collector|program|non-JS threads)\)/.test(f.name)) return '#e8e8e0';
  if (f.url.includes('/node_modules/')) return '#7fa7d8';
  if (f.url.startsWith('file://') || f.url.startsWith('/')) return '#f0a04b';
  return '#b8b8b8';
};
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const boxes: string[] = [];
let depthMax = 0;
const draw = (frame: Frame, x: number, depth: number) => {
  depthMax = Math.max(depthMax, depth);
  const w = (frame.total / root.total) * WIDTH;
  boxes.push(
    `<g><title>${escape(frame.name)} (${((frame.total / root.total) * 100).toFixed(1)} %)</title><rect x="${x.toFixed(1)}" y="{Y${depth}}" width="${Math.max(w - 0.5, 0.5).toFixed(1)}" height="${ROW - 1}" fill="${colour(frame)}"/>` +
      (w > 40 ? `<text x="${(x + 3).toFixed(1)}" y="{T${depth}}">${escape(frame.name.slice(0, Math.floor(w / 6.5)))}</text>` : '') +
      '</g>',
  );
  let cx = x;
  for (const child of [...frame.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (child.total >= minTime) draw(child, cx, depth + 1);
    cx += (child.total / root.total) * WIDTH;
  }
};
draw(root, 0, 0);

// Flame graph: the root at the bottom.
const top = 40;
const height = top + (depthMax + 1) * ROW + 10;
const svg = boxes
  .join('\n')
  .replace(/\{Y(\d+)\}/g, (_m, d: string) => String(height - 10 - (Number(d) + 1) * ROW))
  .replace(/\{T(\d+)\}/g, (_m, d: string) => String(height - 10 - (Number(d) + 1) * ROW + 12));
writeFileSync(
  output,
  `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="monospace" font-size="11">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="8" y="20" font-size="15">${escape(TITLE)}</text>
<text x="8" y="34" fill="#555">${totalText}; boxes under ${MIN_PERCENT} % left out; orange: src/, blue: node_modules, grey: Node and V8</text>
${svg}
</svg>
`,
);
console.log(`wrote ${output}: ${boxes.length} boxes, ${depthMax + 1} levels`);
