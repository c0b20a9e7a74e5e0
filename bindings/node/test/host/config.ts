// The test host's config: what a host's src/config.ts exports (the tests
// mock it with vi.mock, as hosts' own tests do).
export const DATA_DIR = '/tmp/groupq-test-host-data';
export const MAX_CONCURRENT_CONTAINERS = 2;
