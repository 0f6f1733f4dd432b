import { describeWithRedis } from '../helpers/redisServer.js';
import { itSurvivesChurn } from './churnScenario.js';
import { onRedis } from './churnStores.js';

describeWithRedis('createTopic() on redisStore() with an ioredis client under random subscriber churn', () => {
  itSurvivesChurn(onRedis('ioredis'));
});
