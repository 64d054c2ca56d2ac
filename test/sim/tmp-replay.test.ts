import { it } from 'vitest';
import { RaftSimulation } from './raft-sim.js';
it('replay', () => {
  const lines: string[] = [];
  try {
    new RaftSimulation(Number(process.env['S']), {
      faults: { overlappingChanges: true },
      trace: (l) => lines.push(l),
    }).run();
  } catch (e) {
    console.log(lines.slice(-40).join('\n'));
    console.log((e as Error).stack);
  }
});
