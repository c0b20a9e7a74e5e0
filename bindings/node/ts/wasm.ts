// Loads the WebAssembly module synchronously at import: the calls into it
// stay synchronous, and one artifact serves every platform.
import { readFileSync } from 'node:fs';

import { initSync } from '../wasm/groupq_wasm.js';

const bytes = readFileSync(new URL('../wasm/groupq_wasm_bg.wasm', import.meta.url));
const exports = initSync({ module: bytes });

/** The module's memory, where each call's output buffer lives. */
export const memory: WebAssembly.Memory = exports.memory;

export { Core } from '../wasm/groupq_wasm.js';
