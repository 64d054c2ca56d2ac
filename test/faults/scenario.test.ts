// The campaign's run (scripts/faults/scenario.ts) as a CI smoke test: a topic with three
// replicas, one seed, a few seconds of faults aimed at its leader (network cuts too when
// namespaces can be made here), and the checker's verdict: no acknowledged write lost, no
// finding, replicas identical below the high watermark, the controller agreed on after every
// healed cut.

import { describe, expect, it } from 'vitest';
import { describeResult } from '../../scripts/faults/checker.js';
import { namespacesUnavailable } from '../../scripts/faults/netns.js';
import { runScenario } from '../../scripts/faults/scenario.js';

describe('a seeded fault run', () => {
  it('loses no acknowledged write and ends with one controller', async () => {
    const report = await runScenario({
      seed: 7,
      seconds: 2,
      namespaces: namespacesUnavailable() === null,
      replicationFactor: 3,
      acks: 'all',
      bitflip: false,
      log: (line) => console.info(line),
    });
    expect(report.error).toBeUndefined();
    expect(report.faults.length).toBeGreaterThan(0);
    expect(report.controllerProblems).toEqual([]);
    const result = report.result!;
    console.info(describeResult(result));
    expect(result.findings).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(0);
    expect(result.lost).toBe(0);
  }, 60_000);
});
