// Typed errors: every refused call throws one of these and changes nothing.

/** What kind of refusal an error is. */
export type ErrorCode =
  | 'UnknownRun'
  | 'StaleRun'
  | 'ShutDown'
  | 'TimeWentBackwards'
  | 'WorkMismatch'
  | 'InvalidConfig'
  | 'InvalidInput';

/** The base of every error the package throws. */
export class GroupqError extends Error {
  override name = 'GroupqError';
  constructor(
    /** The kind of refusal. */
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The run was never issued. */
export class UnknownRunError extends GroupqError {
  override name = 'UnknownRunError';
  constructor(readonly run: number) {
    super('UnknownRun', `run#${run} was never issued`);
  }
}

/** The run has already exited (a late event of an old run). */
export class StaleRunError extends GroupqError {
  override name = 'StaleRunError';
  constructor(readonly run: number) {
    super('StaleRun', `run#${run} is not live`);
  }
}

/** Work, a pause or a resume after shutdown, or a second shutdown. */
export class ShutDownError extends GroupqError {
  override name = 'ShutDownError';
  constructor() {
    super('ShutDown', 'the machine is shut down');
  }
}

/** `now` is before the `now` of an earlier accepted call. */
export class TimeWentBackwardsError extends GroupqError {
  override name = 'TimeWentBackwardsError';
  constructor(
    readonly now: number,
    readonly last: number,
  ) {
    super('TimeWentBackwards', `time went backwards: ${now} ms is before ${last} ms`);
  }
}

/** `neverLaunched` named other work than the run's. */
export class WorkMismatchError extends GroupqError {
  override name = 'WorkMismatchError';
  constructor(readonly run: number) {
    super('WorkMismatch', `the work given does not match run#${run}'s`);
  }
}

/** The configuration is refused. */
export class InvalidConfigError extends GroupqError {
  override name = 'InvalidConfigError';
  constructor(
    /** The setting at fault. */
    readonly setting: string,
    message: string,
  ) {
    super('InvalidConfig', message);
  }
}

/** An argument of the wrong type or out of range (NaN, a negative time, a non-string key...). */
export class InvalidInputError extends GroupqError {
  override name = 'InvalidInputError';
  constructor(
    /** The argument at fault. */
    readonly argument: string,
    message: string,
  ) {
    super('InvalidInput', message);
  }
}
