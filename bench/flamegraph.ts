// npm run flamegraph -- <in.cpuprofile> <out.svg> [--min=0.5] [--title=…]
// Draws a flame graph (SVG) from a V8 .cpuprofile, as taken by POST /admin/profile/cpu or
// `npm run profile`: each box a function in a stack, its width its share of the samples,
// its parents below it. Boxes narrower than --min percent are left out, so the picture
// stays small enough to commit and read. Colours: our code (src/) orange, dependencies
// (node_modules) blue, Node's own and V8's grey, idle and GC pale.
import { readFileSync, writeFileSync } from 'node:fs';

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
interface Frame {
  name: string;
  url: string;
  self: number;
  total: number;
  children: Map<string, Frame>;
}

const [input, output, ...flags] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: npm run flamegraph -- <in.cpuprofile> <out.svg> [--min=0.5] [--title=…]');
  process.exit(2);
}
const flag = (name: string) => flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
const MIN_PERCENT = Number(flag('min') ?? 0.5);
const TITLE = flag('title') ?? input.split('/').at(-1)!;

const profile = JSON.parse(readFileSync(input, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);

// Time per node: each sample is worth the delta to the next one (V8's timeDeltas).
const time = new Map<number, number>();
profile.samples.forEach((id, i) => time.set(id, (time.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0)));

const shortUrl = (url: string) => url.replace(/^file:\/\/.*?\/(src|node_modules|bench|test)\//, '$1/');
const label = (n: CpuNode) =>
  `${n.callFrame.functionName || '(anonymous)'}${n.callFrame.url ? ` ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : ''}`;

// Merge the stacks of every sampled node into one tree keyed by function and place.
const root: Frame = { name: 'all', url: '', self: 0, total: 0, children: new Map() };
for (const [id, t] of time) {
  const stack: CpuNode[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) stack.unshift(byId.get(cur)!);
  let frame = root;
  root.total += t;
  for (const node of stack.slice(1)) {
    const key = label(node);
    let next = frame.children.get(key);
    if (!next) frame.children.set(key, (next = { name: key, url: node.callFrame.url, self: 0, total: 0, children: new Map() }));
    next.total += t;
    frame = next;
  }
  frame.self += t;
}

const WIDTH = 1600;
const ROW = 17;
const minTime = (root.total * MIN_PERCENT) / 100;
const colour = (f: Frame) => {
  if (/^\((idle|garbage collector|program)\)/.test(f.name)) return '#e8e8e0';
  if (f.url.includes('/node_modules/')) return '#7fa7d8';
  if (f.url.startsWith('file://')) return '#f0a04b';
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
<text x="8" y="34" fill="#555">${(root.total / 1e6).toFixed(1)} s of samples; boxes under ${MIN_PERCENT} % left out; orange: src/, blue: node_modules, grey: Node and V8</text>
${svg}
</svg>
`,
);
console.log(`wrote ${output}: ${boxes.length} boxes, ${depthMax + 1} levels`);
