/** The MySQL or MariaDB the tests use: `MYSQL_URL`, else the local MariaDB of the development container. */
export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** host:port/database of a connection URI, without credentials, for messages. */
export function describeAddress(uri: string): string {
  const url = new URL(uri);
  return `${url.host}${url.pathname}`;
}

/** The same server, another database. */
export function withDatabase(uri: string, database: string): string {
  const url = new URL(uri);
  url.pathname = `/${database}`;
  return url.href;
}
