// `weir group reset-offsets` over several topics (--all-topics). The broker resets one topic per
// call, so a reset of several is not atomic; to come as close as it can, every topic is planned
// first (a dry run each), so a refusal (a member joined, a partition is gone) ends the command
// before anything is committed. Only then are the topics executed, one by one. A failure at that
// point leaves the earlier topics reset: ResetIncomplete says which were done and which were not,
// so the command can print what it changed before it fails.

import type { Admin, ResetOffsetsResult, ResetOffsetsTarget } from '../index.js';

/** Topics before `failedTopic` were executed; it and those after it were not. */
export class ResetIncomplete extends Error {
  constructor(
    readonly done: readonly { topic: string; result: ResetOffsetsResult }[],
    readonly failedTopic: string,
    readonly notReset: readonly string[],
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export interface ResetTopicsOptions {
  partitions?: readonly number[];
  to: ResetOffsetsTarget;
  execute: boolean;
}

/**
 * Resets the group's offsets of each topic in order, answering one result per topic (a dry run
 * unless `execute`). With `execute` and more than one topic, plans them all first; throws ResetIncomplete when an execution fails after others
 * were done, and the broker's error as it is when nothing was changed.
 */
export async function resetTopics(
  admin: Pick<Admin, 'resetOffsets'>,
  group: string,
  topics: readonly string[],
  options: ResetTopicsOptions,
): Promise<ResetOffsetsResult[]> {
  const run = (topic: string, execute: boolean): Promise<ResetOffsetsResult> =>
    admin.resetOffsets(group, {
      topic,
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
      to: options.to,
      execute,
    });
  const plans: ResetOffsetsResult[] = [];
  // One topic needs no separate plan: its execution is refused or done whole.
  if (!options.execute || topics.length > 1) for (const topic of topics) plans.push(await run(topic, false));
  if (!options.execute) return plans;
  const done: { topic: string; result: ResetOffsetsResult }[] = [];
  for (const [i, topic] of topics.entries()) {
    try {
      done.push({ topic, result: await run(topic, true) });
    } catch (err) {
      if (done.length === 0) throw err;
      throw new ResetIncomplete(done, topic, topics.slice(i + 1), err);
    }
  }
  return done.map((d) => d.result);
}
