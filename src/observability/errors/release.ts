// The release an error report names: `<name>@<version>+<commit>` (Sentry's recommended
// form; the `+<commit>` build part tells two deploys of the same version apart). The commit
// comes from GIT_COMMIT (what a CI build stamps into the image) or, in a checkout, from
// `.git` itself: read as files, never by spawning `git` (no git binary in the image, and a
// child process at startup is a cost and a failure mode for nothing).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

const COMMIT = /^[0-9a-f]{7,40}$/i;

export interface ReleaseOptions {
  /** The service's package name and version (its package.json). */
  name?: string;
  version?: string;
  /** GIT_COMMIT; wins over the checkout. */
  commit?: string;
  /** Where to look for a `.git` (this folder and its parents); default the working directory. */
  cwd?: string;
}

/** `name@version+commit`, `name@version`, or undefined when neither name nor version is known. */
export function releaseName(options: ReleaseOptions): string | undefined {
  if (!options.name && !options.version) return undefined;
  const commit = options.commit && COMMIT.test(options.commit) ? options.commit : gitCommit(options.cwd ?? process.cwd());
  const base = `${options.name ?? 'unknown'}@${options.version ?? '0.0.0'}`;
  return commit ? `${base}+${commit.toLowerCase()}` : base;
}

/** The commit checked out in the repository holding `from`, or undefined (no checkout, unreadable, detached oddities). */
export function gitCommit(from: string): string | undefined {
  try {
    const gitDir = findGitDir(resolve(from));
    if (!gitDir) return undefined;
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    if (COMMIT.test(head)) return head; // detached HEAD
    const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
    if (!ref) return undefined;
    // A linked worktree keeps HEAD in its own folder and the refs in the common one.
    const common = existsSync(join(gitDir, 'commondir')) ? resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim()) : gitDir;
    for (const dir of [gitDir, common]) {
      const file = join(dir, ref);
      if (existsSync(file)) {
        const commit = readFileSync(file, 'utf8').trim();
        return COMMIT.test(commit) ? commit : undefined;
      }
    }
    // After `git gc` refs live in packed-refs: "<sha> <ref>" lines.
    const packed = join(common, 'packed-refs');
    if (!existsSync(packed)) return undefined;
    for (const line of readFileSync(packed, 'utf8').split('\n')) {
      const [sha, name] = line.trim().split(' ');
      if (name === ref && sha && COMMIT.test(sha)) return sha;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** The `.git` folder of the checkout holding `dir` (a `.git` file points elsewhere: worktrees, submodules). */
function findGitDir(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, '.git');
    if (existsSync(candidate)) {
      if (statSync(candidate).isDirectory()) return candidate;
      const target = /^gitdir:\s*(.+)$/m.exec(readFileSync(candidate, 'utf8'))?.[1]?.trim();
      return target ? (isAbsolute(target) ? target : resolve(d, target)) : undefined;
    }
    if (dirname(d) === d) return undefined;
  }
}

/** name and version from the package.json nearest to `from` (this folder or a parent). */
export function nearestPackage(from: string): { name?: string; version?: string } {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
        return {
          ...(typeof pkg.name === 'string' ? { name: pkg.name } : {}),
          ...(typeof pkg.version === 'string' ? { version: pkg.version } : {}),
        };
      } catch {
        return {};
      }
    }
    if (dirname(dir) === dir) return {};
  }
}
