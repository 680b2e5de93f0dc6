import { analytics } from '@tern/contracts';
import { sql, type ClickHouse } from '@tern/clickhouse';
import type { DeadLetter, DeadLetterQueues } from '@tern/kafka';
import type { Logger } from '@tern/telemetry';
import { InvalidArgument } from './analytics-api';
import { replayRefusal } from './domain/dead-letters';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

const place = (topic: string, partition: number, offset: string) => `${topic}/${partition}/${offset}`;

/**
 * The operators' view of the dead-letter queues: what is in them (never the records' contents), and replays
 * back to their source topics, each written to the ClickHouse audit log `dlq_replays`, which also keeps a
 * dead letter from being replayed twice.
 */
export class DeadLetterDesk {
  constructor(
    private readonly queues: DeadLetterQueues,
    private readonly clickhouse: ClickHouse,
    private readonly log: Logger,
  ) {}

  async list(request: analytics.ListDeadLettersRequest): Promise<analytics.ListDeadLettersResponse> {
    const limit = request.limit <= 0 ? DEFAULT_LIMIT : Math.min(request.limit, MAX_LIMIT);
    const topics = request.topic ? [await this.known(request.topic)] : await this.queues.topics();
    const letters = (await Promise.all(topics.map((t) => this.queues.read(t, limit)))).flat();
    const chosen = letters.filter((l) => !request.reason || l.reason === request.reason);
    const replayed = await this.replayedAt(topics);
    return {
      deadLetters: chosen.map((l) => ({
        topic: l.topic,
        partition: l.partition,
        offset: l.offset,
        reason: l.reason,
        error: l.error,
        field: l.field,
        sourceTopic: l.sourceTopic,
        sourcePartition: l.sourcePartition,
        sourceOffset: l.sourceOffset,
        consumerGroup: l.consumerGroup,
        failedAt: l.failedAt,
        replays: l.replays,
        replayedAt: replayed.get(place(l.topic, l.partition, l.offset)),
        valueBytes: l.value?.length ?? 0,
      })),
    };
  }

  async replay(
    operatorId: string,
    request: analytics.ReplayDeadLettersRequest,
  ): Promise<analytics.ReplayDeadLettersResponse> {
    const topic = await this.known(request.topic);
    if (request.records.length === 0 && !request.reason) {
      throw new InvalidArgument('name the records to replay, or a reason to replay every record refused for');
    }
    const letters = await this.queues.read(topic, MAX_LIMIT);
    const byPlace = new Map(letters.map((l) => [place(l.topic, l.partition, l.offset), l]));
    const wanted: { ref: analytics.DeadLetterRef; letter: DeadLetter | undefined }[] =
      request.records.length > 0
        ? request.records.map((ref) => ({
            ref,
            letter: byPlace.get(place(topic, ref.partition, ref.offset)),
          }))
        : letters
            .filter((l) => l.reason === request.reason)
            .map((l) => ({ ref: { partition: l.partition, offset: l.offset }, letter: l }));
    const replayed = await this.replayedAt([topic]);
    const response: analytics.ReplayDeadLettersResponse = { replayed: [], refused: [] };
    for (const { ref, letter } of wanted) {
      if (!letter) {
        response.refused.push({
          record: ref,
          why: `no such record among the newest ${MAX_LIMIT} of each partition`,
        });
        continue;
      }
      const why = replayRefusal({
        sourceTopic: letter.sourceTopic,
        replays: letter.replays,
        replayedAt: replayed.get(place(topic, letter.partition, letter.offset)),
      });
      if (why) {
        response.refused.push({ record: ref, why });
        continue;
      }
      await this.queues.replay(letter);
      await this.clickhouse.insert('dlq_replays', [
        {
          replayed_at: Math.floor(Date.now() / 1000),
          operator_id: operatorId,
          dlq_topic: topic,
          partition: letter.partition,
          offset: letter.offset,
          source_topic: letter.sourceTopic,
          reason: letter.reason,
          replays: letter.replays + 1,
          note: request.note,
        },
      ]);
      replayed.set(place(topic, letter.partition, letter.offset), new Date());
      response.replayed.push(ref);
    }
    this.log.info(
      { operator: operatorId, topic, replayed: response.replayed.length, refused: response.refused.length },
      'dead letters replayed',
    );
    return response;
  }

  private async known(topic: string): Promise<string> {
    if (!(await this.queues.topics()).includes(topic)) throw new InvalidArgument(`no DLQ topic ${topic}`);
    return topic;
  }

  /** When each dead letter of these topics was replayed, by its place. */
  private async replayedAt(topics: readonly string[]): Promise<Map<string, Date>> {
    if (topics.length === 0) return new Map();
    const rows = await this.clickhouse.rows<{
      dlq_topic: string;
      partition: number;
      offset: string;
      at: number;
    }>(
      sql`SELECT dlq_topic, partition, toString(offset) AS offset, toUInt32(max(replayed_at)) AS at
          FROM dlq_replays WHERE dlq_topic IN ${topics} GROUP BY dlq_topic, partition, offset`,
    );
    return new Map(
      rows.map((r) => [place(r.dlq_topic, Number(r.partition), r.offset), new Date(Number(r.at) * 1000)]),
    );
  }
}
