import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import architecture from './eslint-rules/architecture.js';
import { LAYERS } from './eslint-rules/layers.js';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // No import cycle (type imports count) and layers that only point down.
    files: ['src/**/*.ts'],
    plugins: { architecture },
    rules: { 'architecture/no-cycle': 'error', 'architecture/layers': ['error', LAYERS] },
  },
  {
    files: ['test/**', 'bench/**', 'eslint-rules/**', '*.js', '*.mjs'],
    rules: { 'no-console': 'off' },
  },
);
