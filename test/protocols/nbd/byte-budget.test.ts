import test from 'ava';
import { ByteBudget } from '../../../protocols/nbd/byte-budget.js';

test('the budget grants in order, never over capacity, and clamps oversized requests', async (t) => {
  const b = new ByteBudget(100);
  t.is(await b.acquire(60), 60);
  const order: string[] = [];
  const second = b.acquire(50).then((n) => order.push(`b${n}`));
  const third = b.acquire(10).then((n) => order.push(`c${n}`)); // fits, but must not overtake b
  await new Promise((r) => setImmediate(r));
  t.deepEqual(order, []);
  t.is(b.inUse, 60);
  b.release(60);
  await Promise.all([second, third]);
  t.deepEqual(order, ['b50', 'c10']);
  t.is(b.inUse, 60);
  const huge = b.acquire(1000);
  b.release(60);
  t.is(await huge, 100, 'a request larger than the budget gets the whole budget');
  b.release(100);
  t.is(b.inUse, 0);
});
