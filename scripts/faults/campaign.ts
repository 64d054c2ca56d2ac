// `npm run faults:campaign`: many seeded fault runs (scenario.ts) against real broker processes,
// off CI, and the counts: runs, faults by kind, operations ok/failed/unknown, acknowledged writes
// lost (of how many), checker findings by property, controller agreement after each healed cut.
// Network faults need root, `ip` and `nft` (network namespaces); without them the runs use
// process faults only, and say so. Every fifth run (--bitflip-every) ends with a bit flipped in a
// closed segment, counted apart. Exit status 1 when any run breaks a property or could not finish.
//
// Usage: npm run faults:campaign -- [--runs N] [--seed S] [--seconds T] [--rf N] [--acks all|leader]
//        [--no-namespaces] [--bitflip-every N (5; 0: never)] [--flip-field records|crc|length|
//        base-offset|leader-epoch]
// A failing run prints its seed and the command that replays its fault schedule: `--runs 1 --seed
// S` with the run's options, and `--bitflip-every 1` (or 0) because whether a run ends with a bit
// flip depends on its place in the campaign, not on its seed. The timing of a real cluster is not
// replayed, so a replay may take another path: run it a few times.

import { parseArgs } from 'node:util';
import type { AcksOption } from '../../client/index.js';
import { PROPERTIES, describeResult, type Property } from './checker.js';
import type { FlipField } from './fault-cluster.js';
import { namespacesUnavailable } from './netns.js';
import { FLIP_TARGETS as FLIP_FIELDS, runScenario, type ScenarioReport } from './scenario.js';

function count(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function line(map: Map<string, number>): string {
  return [...map].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '20' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      seconds: { type: 'string', default: '8' },
      rf: { type: 'string', default: '1' },
      acks: { type: 'string', default: 'all' },
      'no-namespaces': { type: 'boolean', default: false },
      'bitflip-every': { type: 'string', default: '5' },
      'flip-field': { type: 'string' },
    },
  });
  const runs = Number(values.runs);
  const seed = Number(values.seed);
  const seconds = Number(values.seconds);
  const rf = Number(values.rf);
  const acks = values.acks as AcksOption;
  const flipEvery = Number(values['bitflip-every']);
  const flipField = values['flip-field'] as FlipField | undefined;
  if (flipField !== undefined && !FLIP_FIELDS.includes(flipField)) {
    console.error(`faults:campaign: --flip-field takes one of ${FLIP_FIELDS.join(', ')}`);
    process.exit(2);
  }
  if (
    ![runs, seed, seconds, rf].every(Number.isSafeInteger) ||
    runs < 1 ||
    !['all', 'leader'].includes(acks)
  ) {
    console.error('faults:campaign: --runs, --seed, --seconds and --rf take integers, --acks all or leader');
    process.exit(2);
  }
  /** The command that runs seed `s` alone as this campaign ran it. */
  const replayCommand = (s: number, flip: boolean): string =>
    `npm run faults:campaign -- --runs 1 --seed ${s} --seconds ${seconds} --rf ${rf} --acks ${acks}` +
    ` --bitflip-every ${flip ? 1 : 0}${flipField === undefined ? '' : ` --flip-field ${flipField}`}` +
    (values['no-namespaces'] ? ' --no-namespaces' : '');
  const why = values['no-namespaces'] ? 'asked for (--no-namespaces)' : namespacesUnavailable();
  const namespaces = why === null;
  console.log(
    `faults:campaign: ${runs} runs from seed ${seed}, ${seconds} s each, rf ${rf}, acks ${acks}; ` +
      (namespaces ? 'network namespaces: yes' : `no network faults: ${why}`),
  );

  const faults = new Map<string, number>();
  const findings = new Map<Property, number>(PROPERTIES.map((p) => [p, 0]));
  const corruption = new Map<string, number>();
  const ops = { ok: 0, failed: 0, unknown: 0, unknownWritten: 0 };
  let acknowledged = 0;
  let lost = 0;
  let flipLost = 0;
  let flipAcknowledged = 0;
  /** Bit-flip runs whose read got through (the others were refused: nothing to count). */
  let flipRead = 0;
  let agreed = 0;
  const bad: ScenarioReport[] = [];
  for (let i = 0; i < runs; i++) {
    const bitflip = flipEvery > 0 && i % flipEvery === flipEvery - 1;
    const report = await runScenario({
      seed: seed + i,
      seconds,
      namespaces,
      replicationFactor: rf,
      acks,
      bitflip,
      ...(flipField === undefined ? {} : { flipField }),
      log: (l) => console.log(`  ${l}`),
    });
    for (const f of report.faults) count(faults, f.kind);
    agreed += report.controllerAgreed;
    if (report.corruption !== undefined) count(corruption, report.corruption);
    const r = report.result;
    if (r !== null) {
      ops.ok += r.ops.ok;
      ops.failed += r.ops.failed;
      ops.unknown += r.ops.unknown;
      ops.unknownWritten += r.unknownPresent;
      if (bitflip) {
        flipRead++;
        flipLost += r.lost;
        flipAcknowledged += r.acknowledged;
      } else {
        acknowledged += r.acknowledged;
        lost += r.lost;
        for (const f of r.findings) count(findings as Map<string, number>, f.property);
      }
    }
    const broken =
      report.error !== undefined ||
      report.controllerProblems.length > 0 ||
      report.corruption === 'served-wrong' ||
      report.corruption === 'read-stalled' ||
      (!bitflip && r !== null && r.findings.length > 0);
    const head = `run ${i + 1}/${runs} seed ${report.seed}${bitflip ? ' (bitflip)' : ''}`;
    if (report.error !== undefined)
      console.log(`${head}: could not finish: ${report.error} (files kept in ${report.dir})`);
    else if (report.corruption === 'read-stalled')
      console.log(`${head}: [read-stalled] the read got no further and was never told why`);
    else if (r === null) console.log(`${head}: read refused the flipped batch (CORRUPT_MESSAGE)`);
    else if (bitflip && report.corruption !== 'served-wrong')
      console.log(`${head}: ${describeResult(r).split('\n')[0]} [${report.corruption}]`);
    else if (bitflip) console.log(`${head}: [served-wrong] ${describeResult(r)}`);
    else console.log(`${head}: ${describeResult(r)}`);
    for (const p of report.controllerProblems) console.log(`  controller: ${p}`);
    if (broken) console.log(`  replay: ${replayCommand(report.seed, bitflip)}`);
    if (report.error === undefined && report.dir !== undefined) console.log(`  files kept in ${report.dir}`);
    if (broken) bad.push(report);
  }

  const notFlip = acks === 'all' ? '' : ` (acks=${acks})`;
  console.log('');
  console.log(
    `runs: ${runs} (${bad.length} broken${bad.length ? `: seeds ${bad.map((b) => b.seed).join(', ')}` : ''})`,
  );
  console.log(`faults by kind: ${line(faults)}`);
  console.log(
    `operations: ok ${ops.ok}, failed ${ops.failed}, unknown ${ops.unknown} (${ops.unknownWritten} of them written)`,
  );
  console.log(`acknowledged writes lost: ${lost} of ${acknowledged}${notFlip}`);
  console.log(`findings by property: ${line(findings as Map<string, number>)}`);
  console.log(
    `controller agreed after each healed cut: ${agreed} of ${agreed + bad.reduce((n, b) => n + b.controllerProblems.length, 0)}`,
  );
  if (corruption.size > 0)
    console.log(
      `bit flips (one replica): ${line(corruption)}; acknowledged writes lost to them: ${flipLost} of ${flipAcknowledged} ` +
        `(in the ${flipRead} runs whose read got through)`,
    );
  process.exit(bad.length > 0 ? 1 : 0);
}

// Stopped midway: exit through process.exit, so the runs' exit hooks kill their brokers and remove
// their namespaces.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

await main();
