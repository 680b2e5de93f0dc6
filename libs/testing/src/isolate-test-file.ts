// Jest setup of every integration test file (see isolation.ts): its own topic namespace, its worker's Redis
// database, and its topics deleted when it ends (a run of the suite would leave hundreds on the broker).
import { INFRA_ENV } from './infra';
import { TOPIC_NAMESPACE_ENV, workerRedisUrl } from './isolation';
import { deleteNamespaceTopics } from './topics';
import { uniqueName } from './wait';

const namespace = uniqueName('it');
process.env[TOPIC_NAMESPACE_ENV] = namespace;
const redisUrl = process.env[INFRA_ENV.redis];
if (redisUrl) process.env[INFRA_ENV.redis] = workerRedisUrl(redisUrl);

afterAll(async () => {
  if (process.env[INFRA_ENV.kafka]) await deleteNamespaceTopics(namespace);
}, 60_000);
