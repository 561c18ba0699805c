import type { TaskConfig } from '../../shared/config/types.js';
import { quoteId } from '../../shared/sql/quote.js';
import { connectionRoom, listed, privilegeFinding, type Item } from './check.js';
import type { ServerFacts } from './facts.js';
import { hasPrivilege } from './grants.js';

interface TargetContext {
  task: TaskConfig;
  facts: ServerFacts;
  /** Target schemas the task writes: routed schemas of every migrated table, and the meta schema. */
  schemas(): Promise<string[]>;
}

const TARGET_PRIVILEGES = ['CREATE', 'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'ALTER', 'DROP', 'INDEX'];

const targetConnNumber: Item<TargetContext> = {
  name: 'conn_number',
  desc: 'target max_connections leaves room for the load pools',
  severity: 'fail',
  async run({ task, facts }) {
    const pools = task.instances.reduce((sum, i) => sum + i.loader.poolSize, 0);
    return connectionRoom(facts, pools + 2, `loader pool-size ${pools} over ${task.instances.length} instance(s) + 2`);
  },
};

const targetPrivilege: Item<TargetContext> = {
  name: 'target_privilege',
  desc: `target user has ${TARGET_PRIVILEGES.join(', ')} on the target schemas`,
  severity: 'warn',
  async run({ facts, schemas }) {
    const grants = await facts.grants();
    const shortfalls: string[] = [];
    const statements: string[] = [];
    for (const schema of await schemas()) {
      const missing = TARGET_PRIVILEGES.filter((p) => !hasPrivilege(grants, p, schema, '*'));
      if (missing.length === 0) continue;
      shortfalls.push(`${grants.account} lacks ${missing.join(', ')} on ${quoteId(schema)}`);
      statements.push(`GRANT ${missing.join(', ')} ON ${quoteId(schema)}.* TO ${grants.account}`);
    }
    return privilegeFinding(grants, shortfalls, listed(statements, '; '), 'warn');
  },
};

export const TARGET_ITEMS: Item<TargetContext>[] = [targetConnNumber, targetPrivilege];
