// The release an error report names: `<name>@<version>+<commit>`, the commit from GIT_COMMIT
// or read from the checkout's .git files (a branch ref, packed refs, a detached HEAD, a linked
// worktree), nothing when no commit is known.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gitCommit, releaseName } from '../../src/observability/errors/release.ts';

const root = mkdtempSync(join(tmpdir(), 'glassbox-release-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

function checkout(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  mkdirSync(join(dir, 'src', 'deep'), { recursive: true });
  return dir;
}

describe('release name', () => {
  it('reads the commit of a branch, of packed refs, of a detached HEAD and of a linked worktree, from any folder below', () => {
    const branch = checkout('branch', { '.git/HEAD': 'ref: refs/heads/main\n', '.git/refs/heads/main': `${A}\n` });
    expect(gitCommit(join(branch, 'src', 'deep'))).toBe(A);
    const packed = checkout('packed', {
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.git/packed-refs': `# pack-refs\n${B} refs/heads/other\n${A} refs/heads/main\n`,
    });
    expect(gitCommit(packed)).toBe(A);
    expect(gitCommit(checkout('detached', { '.git/HEAD': `${B}\n` }))).toBe(B);
    const main = checkout('main', {
      '.git/refs/heads/feature': `${B}\n`,
      '.git/worktrees/wt/HEAD': 'ref: refs/heads/feature\n',
      '.git/worktrees/wt/commondir': '../..\n',
    });
    const worktree = checkout('wt', { '.git': `gitdir: ${join(main, '.git', 'worktrees', 'wt')}\n` });
    expect(gitCommit(worktree)).toBe(B);
  });

  it('prefers GIT_COMMIT, and names no commit when none is known', () => {
    const branch = join(root, 'branch');
    expect(releaseName({ name: 'svc', version: '1.2.3', commit: 'ABCDEF1', cwd: branch })).toBe('svc@1.2.3+abcdef1');
    expect(releaseName({ name: 'svc', version: '1.2.3', cwd: branch })).toBe(`svc@1.2.3+${A}`);
    expect(releaseName({ name: 'svc', version: '1.2.3', cwd: checkout('empty', {}) })).toBe('svc@1.2.3');
    expect(releaseName({ cwd: branch })).toBeUndefined();
  });
});
