// A real OpenID Connect provider for P360's tests: issues RS256 JWT access
// tokens (RFC 9068) through the client credentials grant, with the tenant and
// role claims an Auth0 tenant would add. Listens on 127.0.0.1:$PORT.
// Usage: PORT=9999 TENANT=acme ROLES=marketer node server.mjs
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 9999);
const issuer = `http://127.0.0.1:${port}`;
const audience = process.env.AUDIENCE || 'https://api.p360.example';

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'p360-test',
    client_secret: 'p360-test-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
  }],
  features: {
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  extraTokenClaims: () => ({
    'https://p360.example/tenant': process.env.TENANT || 'acme',
    'https://p360.example/roles': (process.env.ROLES || 'marketer').split(','),
  }),
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
