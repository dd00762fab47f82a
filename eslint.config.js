// Type-aware linting for the whole tree; tsc does the type check itself.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The import rule of the layout (README, Layout): dependencies flow main → app → modules → platform/observability. */
const restrict = (files, groups, message) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [{ group: groups, message }] }] },
});
const ROOT_FILES = ['**/app.ts', '**/main.ts', '**/dependencies.ts', '**/services.ts', '**/bootstrap.ts', '**/migrate.ts'];

export default tseslint.config(
  { ignores: ['node_modules/', '.data/', 'bench/results/', 'coverage/', 'profiles/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  restrict(
    ['src/observability/**/*.ts'],
    ['**/modules/**', '**/platform/**', '**/config.ts', ...ROOT_FILES],
    'src/observability/ is a layer any service can adopt: it imports nothing of Glassbox. Take what it observes through its options (readiness checks, a metrics facade, error reporting).',
  ),
  restrict(
    ['src/platform/**/*.ts'],
    ['**/modules/**', ...ROOT_FILES],
    'src/platform/ is the outside world (database, cache, jobs, HTTP plumbing): it never imports a module or the composition root.',
  ),
  restrict(
    ['src/modules/**/*.ts'],
    ROOT_FILES,
    'Modules get their dependencies handed in; only the composition root (services.ts, app.ts, main.ts) wires them.',
  ),
  {
    files: ['examples/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '/src/(?!observability/index\\.ts$)',
              message: 'An example adopts the observability layer through its public entry, src/observability/index.ts, like any other service.',
            },
          ],
        },
      ],
    },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
