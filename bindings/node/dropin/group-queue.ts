// groupq's drop-in for a host's src/group-queue.ts (NanoClaw, DEUS,
// OpenClaw and their forks): copy this file over it and `npm install
// groupq`. The API and behaviour are the original's; the decisions are
// groupq's core (one container per group, the global limit, no task run
// twice). See the package's README for where the core is stricter.
import fs from 'fs';

import { GroupQueue as GroupqQueue } from 'groupq';

import { DATA_DIR, MAX_CONCURRENT_CONTAINERS } from './config.js';
import { logger } from './logger.js';

export type { GroupSnapshot } from 'groupq';

export class GroupQueue extends GroupqQueue {
  constructor() {
    super({ maxConcurrentContainers: MAX_CONCURRENT_CONTAINERS, dataDir: DATA_DIR, logger, fs });
  }
}
