// Copies dropin/group-queue.ts into the test host (test/host/), byte for
// byte: the tests and the type check run the very file hosts copy.
import { copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
copyFileSync(
  fileURLToPath(new URL('dropin/group-queue.ts', root)),
  fileURLToPath(new URL('test/host/group-queue.ts', root)),
);
