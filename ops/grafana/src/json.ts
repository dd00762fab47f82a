// JSON laid out the way prettier (the repository's formatter, printWidth 160) lays it out, so
// the dashboards can be rendered synchronously and still pass `prettier --check`: every
// non-empty object one key a line (prettier keeps an object expanded when its first key
// starts a new line), an array of plain values on one line when it fits, any other array one
// element a line. test/ops/dashboards.test.ts holds it to prettier's own output.

const PRINT_WIDTH = 160;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const isPlain = (value: Json) => value === null || typeof value !== 'object';

function print(value: Json, indent: string, prefix: string, suffix: string): string {
  if (isPlain(value)) return prefix + JSON.stringify(value) + suffix;
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return `${prefix}[]${suffix}`;
    if (value.every(isPlain)) {
      const line = `${prefix}[${value.map((v) => JSON.stringify(v)).join(', ')}]${suffix}`;
      if (line.length <= PRINT_WIDTH) return line;
      // prettier packs numbers several to a line ("fill"); no dashboard has such an array.
      if (value.some((v) => typeof v === 'number')) throw new Error(`a number array too long for one line: ${line.trim()}`);
    }
    const items = value.map((v, i) => print(v, inner, inner, i < value.length - 1 ? ',' : ''));
    return `${prefix}[\n${items.join('\n')}\n${indent}]${suffix}`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return `${prefix}{}${suffix}`;
  const items = entries.map(([k, v], i) => print(v, inner, `${inner}${JSON.stringify(k)}: `, i < entries.length - 1 ? ',' : ''));
  return `${prefix}{\n${items.join('\n')}\n${indent}}${suffix}`;
}

/** `value` as JSON text in prettier's layout, with a trailing newline; `undefined` fields dropped as JSON.stringify drops them. */
export function prettyJson(value: unknown): string {
  return `${print(JSON.parse(JSON.stringify(value)) as Json, '', '', '')}\n`;
}
