import { createServer } from 'node:http';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { closeServer, listenOnLoopback } from './net.js';

/**
 * Stands in for Google's Firebase signing keys: an RSA key made here, its public half served as a JWK Set on
 * 127.0.0.1, and Firebase-shaped ID tokens signed with it (RS256, `kid`, iss securetoken.google.com/<project>).
 */
export interface FirebaseKeys {
  jwksUri: string;
  idToken(projectId: string, uid: string, claims?: Record<string, unknown>): string;
  close(): Promise<void>;
}

export async function startFirebaseKeys(): Promise<FirebaseKeys> {
  const kid = 'e2e-firebase-key';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] });
  const http = createServer((req, res) => {
    if (req.url !== '/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' }).end(jwks);
  });
  const port = await listenOnLoopback(http);
  return {
    jwksUri: `http://127.0.0.1:${port}/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com`,
    idToken: (projectId, uid, claims = {}) => signRS256(privateKey, kid, {
      iss: `https://securetoken.google.com/${projectId}`,
      aud: projectId,
      sub: uid,
      user_id: uid,
      iat: Math.floor(Date.now() / 1000) - 5,
      auth_time: Math.floor(Date.now() / 1000) - 30,
      exp: Math.floor(Date.now() / 1000) + 3600,
      firebase: { sign_in_provider: 'password', identities: {} },
      ...claims,
    }),
    close: () => closeServer(http),
  };
}

function signRS256(key: KeyObject, kid: string, payload: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'RS256', kid, typ: 'JWT' })}.${part(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}
