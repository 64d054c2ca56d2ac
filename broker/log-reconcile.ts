// Start-up: makes the partition directories and the topic registry agree, without deleting anything
// an explicit delete did not ask for. A broker that lost or damaged its metadata must not take
// that as an order to erase the data it can no longer account for.
//
// Each directory found is judged by its name and the topic id in its partition.metadata:
//   - a topic id the registry recorded as deleted: the delete a crash interrupted is finished;
//   - the registry's topic of that name, same id (or no id: a directory from before the file
//     existed, adopted and the file written), partition within the count: kept;
//   - the registry's topic of that name but another id, or a partition past the count: set aside as
//     `<topic>-<p>.<id>-orphaned`, kept for an operator, reported;
//   - no topic of that name (the metadata file lost, or its entry): the topic is rebuilt from its
//     directories, with configs that delete nothing (retention.ms=-1, retention.bytes=-1) until an
//     operator sets them, and reported.

import type { LogManager } from '../storage/index.js';
import type { Ids } from './ids.js';
import type { TopicRecord, TopicRegistry } from './topic-registry.js';

export type MetadataEvent =
  | {
      kind: 'topic-rebuilt';
      topic: string;
      topicId: string;
      partitions: number;
      configs: Record<string, string>;
      reason: string;
    }
  | { kind: 'metadata-error'; task: string; error: unknown };

export interface ReconcileOptions {
  readonly now: number;
  readonly maxPartitions: number;
  /** Whether the registry was started empty because its file was missing. */
  readonly metadataMissing: boolean;
  /** The configs and internal flag of a topic rebuilt from its directories. */
  readonly rebuiltAs: (topic: string) => { configs: Record<string, string>; internal: boolean };
  readonly report: (event: MetadataEvent) => void;
  /** The id of a topic rebuilt from directories that carry none. */
  readonly ids: Ids;
}

/** Deleted topics whose directories are being removed, and the removals to wait for. */
export interface PendingDeletes {
  readonly topicIds: string[];
  readonly removed: Promise<void>[];
}

interface FoundDir {
  readonly partition: number;
  readonly topicId: string | null;
}

export function reconcileLogs(
  registry: TopicRegistry,
  logs: LogManager,
  options: ReconcileOptions,
): PendingDeletes {
  const finishing = new Set<string>();
  const removed: Promise<void>[] = [];
  const unowned = new Map<string, FoundDir[]>();
  for (const { topic, partition } of logs.allLogs()) {
    const topicId = logs.topicIdOf(topic, partition) ?? null;
    if (topicId !== null && registry.isDeleted(topicId)) {
      removed.push(logs.removeLog(topic, partition).removed);
      finishing.add(topicId);
      continue;
    }
    const owner = registry.get(topic);
    if (owner === undefined) {
      const list = unowned.get(topic) ?? [];
      list.push({ partition, topicId });
      unowned.set(topic, list);
    } else if (topicId !== null && topicId !== owner.topicId) {
      logs.setAside(topic, partition, `topic '${topic}' has id ${owner.topicId}, this directory ${topicId}`);
    } else if (partition >= owner.partitions) {
      logs.setAside(topic, partition, `topic '${topic}' has ${owner.partitions} partitions`);
    } else if (topicId === null) {
      logs.adoptLog(topic, partition, owner.topicId);
    }
  }
  rebuild(registry, logs, unowned, options);
  const idle = registry.deletedTopicIds.filter((id) => !finishing.has(id));
  try {
    registry.forgetDeleted(idle);
  } catch (error) {
    // Only a record of directories already gone: the next start-up drops it.
    options.report({ kind: 'metadata-error', task: 'forget deleted topic ids', error });
  }
  return { topicIds: [...finishing], removed };
}

function rebuild(
  registry: TopicRegistry,
  logs: LogManager,
  unowned: ReadonlyMap<string, FoundDir[]>,
  options: ReconcileOptions,
): void {
  const records: { record: TopicRecord; dirs: FoundDir[] }[] = [];
  for (const [name, dirs] of unowned) {
    const topicId = likeliestId(dirs);
    const kept: FoundDir[] = [];
    for (const dir of dirs) {
      if (dir.topicId !== null && dir.topicId !== topicId)
        logs.setAside(name, dir.partition, `topic '${name}' is rebuilt with id ${topicId ?? ''}`);
      else if (dir.partition >= options.maxPartitions)
        logs.setAside(name, dir.partition, `a topic has at most ${options.maxPartitions} partitions`);
      else kept.push(dir);
    }
    if (kept.length === 0) continue;
    const { configs, internal } = options.rebuiltAs(name);
    const record: TopicRecord = {
      name,
      topicId: topicId ?? options.ids.uuid(),
      partitions: Math.max(...kept.map((d) => d.partition)) + 1,
      replicationFactor: 1,
      configs,
      internal,
      createdAt: options.now,
    };
    records.push({ record, dirs: kept });
  }
  if (records.length === 0) return;
  registry.restore(records.map((r) => r.record));
  const reason = options.metadataMissing
    ? 'the metadata file was missing'
    : 'the metadata file has no entry for it';
  for (const { record, dirs } of records) {
    for (const dir of dirs)
      if (dir.topicId === null) logs.adoptLog(record.name, dir.partition, record.topicId);
    options.report({
      kind: 'topic-rebuilt',
      topic: record.name,
      topicId: record.topicId,
      partitions: record.partitions,
      configs: { ...record.configs },
      reason: `${reason}; rebuilt from its directories`,
    });
  }
}

/** The id most of a topic's directories carry (the lowest partition's on a tie), or null if none does. */
function likeliestId(dirs: readonly FoundDir[]): string | null {
  const counts = new Map<string, number>();
  for (const d of dirs) if (d.topicId !== null) counts.set(d.topicId, (counts.get(d.topicId) ?? 0) + 1);
  let best: string | null = null;
  let bestCount = 0;
  const byPartition = [...dirs].sort((a, b) => a.partition - b.partition);
  for (const d of byPartition) {
    const count = d.topicId === null ? 0 : (counts.get(d.topicId) ?? 0);
    if (count > bestCount) {
      best = d.topicId;
      bestCount = count;
    }
  }
  return best;
}
