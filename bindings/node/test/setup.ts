// Before the tests: the drop-in, byte for byte, into the test host.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/copy-dropin.mjs', import.meta.url))]);
}
