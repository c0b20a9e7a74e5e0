// The groupq package: the core as `Machine`, the host's `GroupQueue`, and
// the typed errors every refused call throws.

export { Machine } from './machine.js';
export { GroupQueue } from './group-queue.js';
export type {
  GroupQueueOptions,
  GroupSnapshot,
  Logger,
  QueueFs,
  RegisteredProcess,
} from './group-queue.js';
export {
  GroupqError,
  InvalidConfigError,
  InvalidInputError,
  ShutDownError,
  StaleRunError,
  TimeWentBackwardsError,
  UnknownRunError,
  WorkMismatchError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export type * from './types.js';
