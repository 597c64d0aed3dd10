import type pg from 'pg';

/**
 * Runs `work` inside BEGIN … COMMIT on one pooled connection, rolling back when it throws.
 *
 * @internal
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // A ROLLBACK that fails means the connection itself is gone: have the pool destroy it, not reuse it.
    broken = await client.query('ROLLBACK').then(
      () => false,
      () => true,
    );
    throw error;
  } finally {
    client.release(broken);
  }
}
