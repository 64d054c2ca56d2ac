// The metadata image: each record's effect, each rule for a record that does not fit (changes
// nothing and says why), and replay properties (deterministic, total).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MetadataImage } from '../../../broker/cluster/metadata-image.js';
import type { MetadataRecord } from '../../../broker/cluster/metadata-records.js';
import { A, fence, unfence, relatedRecord } from './arbitraries.js';

const B = '22222222-2222-4222-8222-222222222222';

function register(nodeId: number, incarnation = A, host = `b${nodeId}`): MetadataRecord {
  return {
    type: 'registerBroker',
    nodeId,
    incarnation,
    host,
    grpcPort: 9093,
    httpPort: 8080,
    replicationPort: 9094,
  };
}
const topic = (name: string, partitions = 2, topicId = 'id-' + name): MetadataRecord => ({
  type: 'topic',
  name,
  topicId,
  partitions,
  replicationFactor: 2,
});
const partition = (t: string, p: number, replicas: number[]): MetadataRecord => ({
  type: 'partition',
  topic: t,
  partition: p,
  replicas,
});
const config = (t: string, key: string, value: string | null): MetadataRecord => ({
  type: 'config',
  topic: t,
  key,
  value,
});

/** Applies `records`, expecting each to fit. */
function imageOf(...records: MetadataRecord[]): MetadataImage {
  const image = new MetadataImage();
  for (const r of records) expect(image.apply(r), JSON.stringify(r)).toBeNull();
  return image;
}

describe('brokers', () => {
  it('a registered broker is fenced until unfenced, and only then live', () => {
    const image = imageOf(register(1), register(2));
    expect(image.broker(1)).toEqual({
      nodeId: 1,
      incarnation: A,
      host: 'b1',
      grpcPort: 9093,
      httpPort: 8080,
      replicationPort: 9094,
      fenced: true,
    });
    expect(image.liveBrokers()).toEqual([]);
    image.apply(unfence(2));
    expect(image.liveBrokers().map((b) => b.nodeId)).toEqual([2]);
    image.apply(fence(2));
    expect(image.liveBrokers()).toEqual([]);
  });

  it('a new incarnation replaces the old one, fenced, and records of the old one are ignored', () => {
    const image = imageOf(register(1, A), unfence(1, A), register(1, B, 'moved'));
    expect(image.broker(1)).toMatchObject({ incarnation: B, host: 'moved', fenced: true });
    expect(image.isCurrent(1, B)).toBe(true);
    expect(image.isCurrent(1, A)).toBe(false);
    expect(image.apply(unfence(1, A))).toMatch(/registered as incarnation 2222.*, not 1111/);
    expect(image.broker(1)?.fenced).toBe(true);
    image.apply(unfence(1, B));
    expect(image.apply(fence(1, A))).toMatch(/not 1111/);
    expect(image.broker(1)?.fenced).toBe(false);
  });

  it('ignores fencing or unfencing an unregistered broker', () => {
    const image = new MetadataImage();
    expect(image.apply(unfence(7))).toBe('broker 7 is not registered');
    expect(image.apply(fence(7))).toBe('broker 7 is not registered');
    expect(image.brokers()).toEqual([]);
  });

  it('fencing a fenced broker changes nothing and is no anomaly', () => {
    const image = imageOf(register(1));
    const before = image.broker(1);
    expect(image.apply(fence(1))).toBeNull();
    expect(image.broker(1)).toBe(before);
  });

  it('replaces an entry instead of changing it, so a reader keeps what it read', () => {
    const image = imageOf(register(1));
    const held = image.broker(1)!;
    image.apply(unfence(1));
    expect(held.fenced).toBe(true);
    expect(Object.isFrozen(held)).toBe(true);
  });

  it('lists brokers by node id', () => {
    const image = imageOf(register(10), register(2), register(7));
    expect(image.brokers().map((b) => b.nodeId)).toEqual([2, 7, 10]);
  });
});

describe('topics', () => {
  it('a topic has the partitions its partition records place, in order', () => {
    const image = imageOf(topic('t', 2), partition('t', 0, [1, 2]));
    expect(image.topic('t')).toEqual({
      name: 't',
      topicId: 'id-t',
      replicationFactor: 2,
      partitions: [{ replicas: [1, 2], target: null }],
      configs: {},
    });
    image.apply(partition('t', 1, [2, 3]));
    image.apply(partition('t', 2, [3, 1]));
    expect(image.topic('t')?.partitions.map((p) => p.replicas)).toEqual([
      [1, 2],
      [2, 3],
      [3, 1],
    ]);
  });

  it('allocates nothing for the partition count of a topic record', () => {
    const image = imageOf(topic('t', 0x7fff_ffff));
    expect(image.topic('t')?.partitions).toEqual([]);
  });

  it('a partition record below the count reassigns the partition', () => {
    const image = imageOf(topic('t', 1), partition('t', 0, [1, 2]), partition('t', 0, [3, 1]));
    expect(image.topic('t')?.partitions).toEqual([{ replicas: [3, 1], target: null }]);
  });

  it('ignores a partition record that would leave a gap, or of an unknown topic', () => {
    const image = imageOf(topic('t', 3), partition('t', 0, [1]));
    expect(image.apply(partition('t', 2, [1]))).toBe(
      "topic 't' has 1 partitions; partition 2 would leave a gap",
    );
    expect(image.apply(partition('u', 0, [1]))).toBe("topic 'u' does not exist");
    expect(image.topic('t')?.partitions).toEqual([{ replicas: [1], target: null }]);
    expect(image.topic('u')).toBeUndefined();
  });

  it('ignores a second topic of a taken name: the first keeps its id and partitions', () => {
    const image = imageOf(topic('t', 1, 'first'), partition('t', 0, [1]));
    expect(image.apply(topic('t', 5, 'second'))).toBe("topic 't' exists");
    expect(image.topic('t')).toMatchObject({
      topicId: 'first',
      partitions: [{ replicas: [1], target: null }],
    });
  });

  it('sets and removes configs; ignores configs of an unknown topic', () => {
    const image = imageOf(
      topic('t'),
      config('t', 'retention.ms', '1000'),
      config('t', 'cleanup.policy', 'compact'),
    );
    image.apply(config('t', 'retention.ms', null));
    expect(image.topic('t')?.configs).toEqual({ 'cleanup.policy': 'compact' });
    expect(image.apply(config('u', 'retention.ms', '1'))).toBe("topic 'u' does not exist");
  });

  it('removes a topic, after which the name can be taken again; ignores removing an unknown one', () => {
    const image = imageOf(topic('t', 2, 'old'), config('t', 'retention.ms', '1'), {
      type: 'removeTopic',
      name: 't',
    });
    expect(image.topic('t')).toBeUndefined();
    expect(image.apply({ type: 'removeTopic', name: 't' })).toBe("topic 't' does not exist");
    image.apply(topic('t', 1, 'new'));
    expect(image.topic('t')).toMatchObject({ topicId: 'new', configs: {} });
  });

  it('lists topics in code point order, whatever the locale', () => {
    const image = imageOf(topic('b'), topic('a'), topic('B'), topic('_'));
    expect(image.topics().map((t) => t.name)).toEqual(['B', '_', 'a', 'b']);
  });

  it('counts replicas and preferred leaders per broker', () => {
    const image = imageOf(
      topic('t', 2),
      partition('t', 0, [1, 2]),
      partition('t', 1, [2, 3]),
      topic('u', 1),
      partition('u', 0, [2]),
    );
    expect(image.load()).toEqual(
      new Map([
        [1, { replicas: 1, leaders: 1 }],
        [2, { replicas: 3, leaders: 2 }],
        [3, { replicas: 1, leaders: 0 }],
      ]),
    );
  });
});

describe('snapshot', () => {
  it('is plain data that survives JSON', () => {
    const image = imageOf(
      register(2),
      unfence(2),
      register(1),
      topic('t', 1),
      partition('t', 0, [2]),
      config('t', 'retention.ms', '5'),
    );
    const snapshot = image.toJSON();
    expect(JSON.parse(JSON.stringify(image))).toEqual(snapshot);
    expect(snapshot.brokers.map((b) => [b.nodeId, b.fenced])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(snapshot.topics).toEqual([
      {
        name: 't',
        topicId: 'id-t',
        replicationFactor: 2,
        partitions: [{ replicas: [2], target: null }],
        configs: { 'retention.ms': '5' },
      },
    ]);
  });
});

describe('replay', () => {
  // Records drawn from a small space of names and ids, so that they often meet (and often do not fit).
  const related = fc.array(relatedRecord, { maxLength: 60 });

  it('never throws, and the same log gives the same image', () => {
    fc.assert(
      fc.property(related, (records) => {
        const a = MetadataImage.of(records);
        const b = MetadataImage.of(records);
        expect(JSON.stringify(a)).toBe(JSON.stringify(b));
      }),
    );
  });

  it('a record that does not fit changes nothing', () => {
    const seen = { fit: 0, misfit: 0 };
    fc.assert(
      fc.property(related, relatedRecord, (records, next) => {
        const image = MetadataImage.of(records);
        const before = JSON.stringify(image);
        if (image.apply(next) === null) return void seen.fit++;
        seen.misfit++;
        expect(JSON.stringify(image)).toBe(before);
      }),
    );
    // The draws make both cases common, or the property would hold vacuously.
    expect(seen.fit).toBeGreaterThan(10);
    expect(seen.misfit).toBeGreaterThan(10);
  });

  it('live brokers are exactly the registered, unfenced ones', () => {
    fc.assert(
      fc.property(related, (records) => {
        const image = MetadataImage.of(records);
        expect(image.liveBrokers()).toEqual(image.brokers().filter((b) => !b.fenced));
      }),
    );
  });
});
