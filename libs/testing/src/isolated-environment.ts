// The jest environment of the integration tests (see isolation.ts): each test file gets its own topic
// namespace and its worker's Redis database, and its topics are deleted when it ends (a run of the suite would
// otherwise leave hundreds on the broker). Deleted in the environment's teardown, after every hook of the
// file: its services must be stopped first, or they would spend their shutdown committing to topics gone.
import { TestEnvironment } from 'jest-environment-node';
import { INFRA_ENV } from './infra';
import { TOPIC_NAMESPACE_ENV, workerRedisUrl } from './isolation';
import { deleteNamespaceTopics } from './topics';
import { uniqueName } from './wait';

export default class IsolatedEnvironment extends TestEnvironment {
  private readonly namespace = uniqueName('it');

  override async setup(): Promise<void> {
    await super.setup();
    const env = this.global.process.env;
    env[TOPIC_NAMESPACE_ENV] = this.namespace;
    const redisUrl = env[INFRA_ENV.redis];
    if (redisUrl) env[INFRA_ENV.redis] = workerRedisUrl(redisUrl);
  }

  override async teardown(): Promise<void> {
    if (process.env[INFRA_ENV.kafka]) await deleteNamespaceTopics(this.namespace);
    await super.teardown();
  }
}
