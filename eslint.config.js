// Lint enforces the layering of DESIGN.md §2: app is the headless core and never reaches up into
// the Electron shell or the UI; the renderer sees the core only through the app/api contract.
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'resources/models/**', 'bench/.cache/**', 'test-output/**'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['app/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'app/ is plain Node: it never imports electron (DESIGN.md §2).' }],
        patterns: [
          { group: ['**/main/**', '**/main', '**/renderer/**', '**/renderer'], message: 'app/ never imports main/ or renderer/ (DESIGN.md §2).' },
        ],
      }],
    },
  },
  {
    // Repeats the app/ rule (a later block replaces a rule's options, it does not merge them).
    files: ['app/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'app/ is plain Node: it never imports electron (DESIGN.md §2).' }],
        patterns: [
          { group: ['**/main/**', '**/main', '**/renderer/**', '**/renderer'], message: 'app/ never imports main/ or renderer/ (DESIGN.md §2).' },
          { group: ['**/train/**', '**/train', '@tensorflow/*'], message: 'The inference engine never loads training code or TF.js: app/train builds on app/engine, not the reverse.' },
        ],
      }],
    },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.svelte.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'The renderer talks to the core only through app/api.' }],
        patterns: [
          { group: ['**/app/**', '!**/app/api', '!**/app/api/**'], message: 'renderer/ imports only the shared API types from app/api.' },
          { group: ['**/main/**', '**/main'], message: 'renderer/ never imports main/.' },
        ],
      }],
    },
  },
);
