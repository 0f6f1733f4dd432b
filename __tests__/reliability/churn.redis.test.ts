import { describeWithRedis } from '../helpers/redisServer.js';
import { itSurvivesChurn } from './churnScenario.js';
import { onRedis } from './churnStores.js';

describeWithRedis('createTopic() on redisStore() with a node-redis client under random subscriber churn', () => {
  itSurvivesChurn(onRedis('redis'));
});
