/** The PostgreSQL the tests use: `DATABASE_URL`, else the local server of the development container. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** host:port/database of a connection string, without credentials, for messages. */
export function describeAddress(connectionString: string): string {
  const url = new URL(connectionString);
  return `${url.host}${url.pathname}`;
}
