// The test host's logger: what a host's src/logger.ts exports.
type Log = (obj: object, msg: string) => void;
const quiet: Log = () => {};
export const logger: { debug: Log; info: Log; warn: Log; error: Log; fatal: Log } = {
  debug: quiet,
  info: quiet,
  warn: quiet,
  error: quiet,
  fatal: quiet,
};
