// A Logto-like OpenID Connect server for the CLI's tests, built on oidc-provider.
//
// Mounted at /oidc like the platform's auth server (/oidc/auth, /oidc/token,
// /oidc/token/revocation, /oidc/.well-known/openid-configuration). One public native client with
// PKCE (S256) required, loopback redirect URIs on any port (RFC 8252), refresh-token rotation
// where reuse revokes the whole grant, a short access-token lifetime, and the RFC 8693 token
// exchange for Personal Access Tokens. The dev login and consent forms accept any user.
//
// Env: CLIENT_ID (default cybedefend-cli), ACCESS_TTL seconds (default 60), PATS (comma list).
// Prints "READY <port>" once listening on 127.0.0.1. GET /__stats returns counters.
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const PAT_TYPE = 'urn:logto:token-type:personal_access_token';
const clientId = process.env.CLIENT_ID || 'cybedefend-cli';
const accessTtl = Number(process.env.ACCESS_TTL || 60);
const pats = new Set((process.env.PATS || '').split(',').filter(Boolean));
const stats = { authorization_code: 0, refresh_token: 0, token_exchange: 0, refresh_errors: 0, invalid_grant: 0, revocations: 0 };

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const { port } = server.address();

const provider = new Provider(`http://127.0.0.1:${port}/oidc`, {
  clients: [{
    client_id: clientId,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://localhost/callback', 'http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'refresh_token', EXCHANGE],
    response_types: ['code'],
  }],
  scopes: ['openid', 'offline_access'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => ({ scope: 'api', audience: resource, accessTokenTTL: accessTtl, accessTokenFormat: 'jwt' }),
    },
  },
  ttl: { AccessToken: accessTtl, RefreshToken: 3600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
  rotateRefreshToken: true,
  cookies: { keys: ['cybedefend-test-cookie-key'] },
  async findAccount(_ctx, sub) { return { accountId: sub, async claims() { return { sub }; } }; },
});

provider.registerGrantType(EXCHANGE, async (ctx) => {
  const { subject_token: subject, subject_token_type: type } = ctx.oidc.params;
  if (!subject) throw new errors.InvalidRequest('missing required parameter subject_token');
  if (type !== PAT_TYPE) throw new errors.InvalidRequest('unsupported subject_token_type');
  if (!pats.has(subject)) throw new errors.InvalidGrant('invalid personal access token');
  const { client } = ctx.oidc;
  const grant = new provider.Grant({ accountId: 'pat-user', clientId: client.clientId });
  grant.addOIDCScope('openid');
  const grantId = await grant.save();
  const token = new provider.AccessToken({ accountId: 'pat-user', client, grantId, gty: 'token_exchange', scope: 'openid' });
  const value = await token.save();
  stats.token_exchange += 1;
  ctx.body = { access_token: value, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: token.expiration, scope: token.scope };
}, ['subject_token', 'subject_token_type', 'requested_token_type', 'scope', 'resource', 'audience', 'actor_token', 'actor_token_type'], ['resource', 'audience']);

provider.on('grant.success', (ctx) => {
  const g = ctx.oidc.params.grant_type;
  if (g === 'authorization_code') stats.authorization_code += 1;
  if (g === 'refresh_token') stats.refresh_token += 1;
});
provider.on('grant.error', (ctx, err) => {
  if (ctx.oidc?.params?.grant_type === 'refresh_token') stats.refresh_errors += 1;
  if (err?.error === 'invalid_grant') stats.invalid_grant += 1;
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const handle = provider.callback();
server.on('request', (req, res) => {
  if (req.url === '/__stats') {
    const body = JSON.stringify(stats);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    return;
  }
  if (req.method === 'POST' && req.url === '/oidc/token/revocation') {
    res.on('finish', () => { if (res.statusCode === 200) stats.revocations += 1; });
  }
  if (req.url === '/oidc' || req.url.startsWith('/oidc/') || req.url.startsWith('/oidc?')) {
    req.originalUrl = req.url;
    req.url = req.url.slice('/oidc'.length) || '/';
    handle(req, res);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
});
console.log(`READY ${port}`);
