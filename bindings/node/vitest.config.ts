import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The package by its name, from its sources: what the drop-in imports.
    alias: { groupq: fileURLToPath(new URL('./ts/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/setup.ts'],
  },
});
