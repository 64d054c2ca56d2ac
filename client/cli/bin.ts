#!/usr/bin/env node
// The executable behind `weir` (package.json "bin").

import { EXIT_FAILURE } from './common.js';
import { describeFailure, main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(describeFailure(err) + '\n');
    process.exitCode = EXIT_FAILURE;
  },
);
