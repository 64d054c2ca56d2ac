// Property tests are deterministic: fast-check draws from one fixed seed unless a test names its
// own. Set FC_SEED to explore other inputs locally; a failure prints the seed that replays it.

import fc from 'fast-check';

fc.configureGlobal({ seed: Number(process.env['FC_SEED'] ?? 20261122) });
