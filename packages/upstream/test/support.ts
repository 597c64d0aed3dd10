import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { JWK, JWTPayload } from 'jose';

/** A node:http server on 127.0.0.1 with an ephemeral port. */
export interface LocalServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(listener: RequestListener): Promise<LocalServer> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export const now = (): number => Math.floor(Date.now() / 1000);

/** A signing key whose public half is published, plus what an attacker could get hold of: the public key. */
export interface SigningKey {
  alg: 'RS256' | 'ES256';
  kid: string;
  privateKey: CryptoKey;
  publicJWK: JWK;
  /** The public key as SPKI PEM bytes, the "secret" of an HS256 key-confusion attack. */
  publicPEMBytes: Uint8Array;
}

export async function signingKey(alg: 'RS256' | 'ES256', kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const spki = Buffer.from(await crypto.subtle.exportKey('spki', publicKey)).toString('base64');
  const pem = `-----BEGIN PUBLIC KEY-----\n${spki.match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
  return { alg, kid, privateKey, publicJWK: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, publicPEMBytes: new TextEncoder().encode(pem) };
}

/** Serves `{ keys }` at `path` and counts the fetches. */
export async function startJWKSServer(path: string, keys: SigningKey[]): Promise<LocalServer & { jwksUri: string; fetches: () => number }> {
  let fetches = 0;
  const server = await startServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== path) return sendJSON(res, 404, { error: 'not_found' });
    fetches++;
    sendJSON(res, 200, { keys: keys.map((key) => key.publicJWK) });
  });
  return { ...server, jwksUri: `${server.url}${path}`, fetches: () => fetches };
}

export function sign(key: SigningKey, payload: JWTPayload, header: { kid?: string | undefined } = { kid: key.kid }): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, typ: 'JWT', ...header }).sign(key.privateKey);
}

/** HS256 over the public key's bytes: accepted only by a verifier that lets the token choose its algorithm. */
export function signWithPublicKeyAsHMACSecret(key: SigningKey, payload: JWTPayload): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.kid }).sign(key.publicPEMBytes);
}

export function unsignedToken(payload: JWTPayload, kid: string): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT', kid })}.${part(payload)}.`;
}
