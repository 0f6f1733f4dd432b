import { itSurvivesChurn } from './churnScenario.js';
import { inProcess } from './churnStores.js';

describe('createTopic() on memoryStore() under random subscriber churn', () => {
  itSurvivesChurn(inProcess);
});
