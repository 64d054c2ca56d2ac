// The per-partition gauges of a /metrics scrape (weir_partition_*), written as Prometheus text.
//
// A broker with 5,000 partitions has 25,000 of these series, and they were most of a scrape's
// cost: set into prom-client gauges (a label hash per series) and formatted back out (label
// escaping per series) took about 70 ms of one event-loop turn, all of it added to the latency
// of any produce or fetch that arrived meanwhile. Here every partition's stats are read in one
// synchronous pass (one consistent snapshot), each partition's label text is built once and kept
// while its topic exists, and the text is written in slices of PARTITIONS_PER_SLICE partitions
// with a turn of the event loop between slices, so requests are served while a scrape is written.

import { setImmediate as nextTurn } from 'node:timers/promises';
import type { PartitionStats } from './replica/replica-manager.js';

/** Partitions written per event-loop turn: about a millisecond of work. */
export const PARTITIONS_PER_SLICE = 1000;

interface GaugeDef {
  readonly name: string;
  readonly help: string;
  readonly value: (s: PartitionStats) => number;
}

/** Names and help as the README and dashboards know them; never rename. */
export const PARTITION_GAUGES: readonly GaugeDef[] = [
  {
    name: 'weir_partition_size_bytes',
    help: 'Bytes of the partition log on disk.',
    value: (s) => s.sizeBytes,
  },
  {
    name: 'weir_partition_high_watermark',
    help: 'High watermark: the offset after the last committed record.',
    value: (s) => s.highWatermark,
  },
  {
    name: 'weir_partition_log_start_offset',
    help: 'First offset still in the log.',
    value: (s) => s.logStartOffset,
  },
  {
    name: 'weir_partition_log_end_offset',
    help: 'The offset the next append gets.',
    value: (s) => s.logEndOffset,
  },
  { name: 'weir_partition_segments', help: 'Segments of the partition log.', value: (s) => s.segments },
  {
    name: 'weir_partition_leader',
    help: "The node id of the partition's leader as this broker knows it; -1 when none is known.",
    value: (s) => s.leader,
  },
  {
    name: 'weir_partition_raft_term',
    help: "The Raft term (leader epoch) of this broker's replica of the partition.",
    value: (s) => s.term,
  },
];

/** A label value as the text format wants it (topic names need none of this today; the format does). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class PartitionGauges {
  /** Per topic, per partition number: `{topic="...",partition="N"}`. */
  private labels = new Map<string, string[]>();

  /** The weir_partition_* families for `partitions`, each family's series together. */
  async render(partitions: readonly { topic: string; stats: PartitionStats }[]): Promise<string> {
    const kept = new Map<string, string[]>();
    const bodies = PARTITION_GAUGES.map(() => '');
    for (let from = 0; from < partitions.length; from += PARTITIONS_PER_SLICE) {
      if (from > 0) await nextTurn();
      const to = Math.min(partitions.length, from + PARTITIONS_PER_SLICE);
      for (let i = from; i < to; i++) {
        const { topic, stats } = partitions[i]!;
        const label = this.labelOf(kept, topic, stats.partition);
        for (let g = 0; g < PARTITION_GAUGES.length; g++)
          bodies[g] += `${PARTITION_GAUGES[g]!.name}${label} ${PARTITION_GAUGES[g]!.value(stats)}\n`;
      }
    }
    // Labels of topics not seen in this scrape (deleted) are dropped with the old map.
    this.labels = kept;
    return PARTITION_GAUGES.map(
      (def, g) => `# HELP ${def.name} ${def.help}\n# TYPE ${def.name} gauge\n${bodies[g]}`,
    ).join('\n');
  }

  private labelOf(kept: Map<string, string[]>, topic: string, partition: number): string {
    let list = kept.get(topic);
    if (list === undefined) kept.set(topic, (list = this.labels.get(topic) ?? []));
    return (list[partition] ??= `{topic="${escapeLabelValue(topic)}",partition="${partition}"}`);
  }
}
