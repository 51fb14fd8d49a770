/** SASL's parts on their own: the JAAS file format, DIGEST-MD5's directives and math, the two roles, the zoo.cfg keys. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DigestMd5ClientExchange } from '../../src/client/sasl.ts';
import { parseDirectives, responseValue, SaslError } from '../../src/protocol/sasl-digest-md5.ts';
import { jaasFileFromEnv, SaslAuthenticator } from '../../src/server/auth/sasl.ts';
import { DigestMd5ServerExchange } from '../../src/server/auth/sasl-digest-md5.ts';
import { clientCredentials, parseJaas, serverCredentials } from '../../src/server/auth/sasl-jaas.ts';
import { parseZooCfg } from '../../src/server/config.ts';

const DIGEST = 'org.apache.zookeeper.server.auth.DigestLoginModule';

describe('JAAS files', () => {
  test('sections, comments, quoting and flags as Java\'s ConfigFile reads them', () => {
    const jaas = parseJaas(`
      // a line comment
      Server {
        ${DIGEST} required /* inline */
          user_bob="bob's \\"secret\\""
          user_alice=plain
          debug=true;
      };
      /* a block
         comment */ Client{${DIGEST} OPTIONAL username="bob" password='single quoted';};
    `);
    assert.deepEqual([...jaas.keys()], ['Server', 'Client']);
    assert.deepEqual(serverCredentials(jaas, 'Server', 'f'), new Map([['bob', 'bob\'s "secret"'], ['alice', 'plain']]));
    assert.deepEqual(clientCredentials(jaas, 'Client', 'f'), { username: 'bob', password: 'single quoted' });
    assert.equal(jaas.get('Client')![0].flag, 'optional');
  });

  test('errors name the file and line', () => {
    const cases: Array<[string, RegExp]> = [
      [`Server { ${DIGEST} required user_a="x" };`, /f: line 1: expected an option name or ";", found "}"/],
      [`Server {\n ${DIGEST} mandatory;\n};`, /f: line 2: "mandatory" is not a control flag/],
      [`Server { ${DIGEST} required user_a="x;\n};`, /line 1: unterminated quoted string/],
      ['/* never closed', /unterminated \/\* comment/],
      [`Server { ${DIGEST} required; };\nServer { ${DIGEST} required; };`, /line 2: section Server is given twice/],
      [`Server { ${DIGEST} required; }`, /expected ";" before the end/],
      ['Server { a required x = ; };', /expected a value for x, found ";"/],
      ['Server { a required % };', /unexpected character "%"/],
    ];
    for (const [text, message] of cases) assert.throws(() => parseJaas(text, 'f'), message, text);
  });

  test('a missing section, Kerberos and other login modules are refused by name', () => {
    const jaas = parseJaas(`Client { ${DIGEST} required username="u" password="p"; };
      Krb { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="/k" principal="zk/host@R"; };
      Other { org.example.LdapLoginModule sufficient; };`);
    assert.throws(() => serverCredentials(jaas, 'Server', 'jaas.conf'), /jaas.conf: no JAAS configuration section named 'Server' was found \(sections: Client, Krb, Other\)/);
    assert.throws(() => serverCredentials(jaas, 'Krb', 'jaas.conf'), /Krb5LoginModule: Kerberos \(GSSAPI\) is not supported/);
    assert.throws(() => serverCredentials(jaas, 'Other', 'jaas.conf'), /login module org.example.LdapLoginModule is not supported/);
    assert.throws(() => clientCredentials(parseJaas(`C { ${DIGEST} required username="u"; };`), 'C', 'f'), /no DigestLoginModule entry with both username and password/);
  });
});

describe('DIGEST-MD5', () => {
  test('RFC 2831\'s example: its response and rspauth', () => {
    const f = {
      username: 'chris', realm: 'elwood.innosoft.com', nonce: 'OA6MG9tEQGm2hh', cnonce: 'OA6MHXh6VqTrRk', nc: '00000001',
      qop: 'auth', digestUri: 'imap/elwood.innosoft.com',
    };
    assert.equal(responseValue(f, 'secret', true), 'd388dad90d4bbd760a152321f2143af7');
    assert.equal(responseValue(f, 'secret', false), 'ea40f60335c427b5527b84dbabcdfffd');
  });

  test('directive lists: quoting, escapes, spaces, case; malformed ones are SaslErrors', () => {
    assert.deepEqual(parseDirectives(' Realm="a\\"b" ,nonce=xyz,, qop="auth,auth-int" '), new Map([['realm', 'a"b'], ['nonce', 'xyz'], ['qop', 'auth,auth-int']]));
    for (const bad of ['nonce', 'nonce="x', 'a=1 b=2', '=x', 'a=1,a=2', 'a="x\\']) assert.throws(() => parseDirectives(bad), SaslError, bad);
  });

  const users = new Map([['bob', 'bobsecret'], ['ünï', 'pässwörd€']]);
  const server = (): DigestMd5ServerExchange => new DigestMd5ServerExchange((u) => users.get(u), randomBytes);

  /** A whole exchange between the two roles; returns the user the server authenticated. */
  function exchange(username: string, password: string, tamper: (token: string) => string = (t) => t): string | undefined {
    const s = server();
    const c = new DigestMd5ClientExchange({ mechanism: 'DIGEST-MD5', username, password });
    const challenge = s.evaluate(c.initial());
    const response = Buffer.from(tamper(c.evaluate(challenge.reply)!.toString('utf8')), 'utf8');
    const done = s.evaluate(response);
    assert.equal(c.evaluate(done.reply), null);
    assert.equal(c.complete, true);
    return done.user;
  }

  test('our client and our server agree, non-ASCII names and passwords included', () => {
    assert.equal(exchange('bob', 'bobsecret'), 'bob');
    assert.equal(exchange('ünï', 'pässwörd€'), 'ünï');
  });

  test('the server refuses a wrong password, an unknown user, a replayed or altered response, a token too many', () => {
    assert.throws(() => exchange('bob', 'wrong'), /Mismatched response/);
    assert.throws(() => exchange('mallory', 'bobsecret'), /no such user: mallory/);
    const cases: Array<[string, (t: string) => string, RegExp]> = [
      ['other nonce', (t) => t.replace(/nonce="[^"]*"/, 'nonce="abc"'), /Mismatched nonce/],
      ['other uri', (t) => t.replace('zookeeper/zk-sasl-md5', 'zookeeper/127.0.0.1'), /Mismatched URI/],
      ['other realm', (t) => t.replace('realm="zk-sasl-md5"', 'realm="x"'), /Nonexistent realm/],
      ['auth-int', (t) => t.replace('qop=auth', 'qop=auth-int'), /qop auth-int was not offered/],
      ['second nonce count', (t) => t.replace('nc=00000001', 'nc=00000002'), /nonce count/],
      ['no cnonce', (t) => t.replace(/cnonce="[^"]*",/, ''), /missing cnonce/],
      ['latin-1 charset', (t) => t.replace('charset=utf-8', 'charset=iso-8859-1'), /unsupported charset/],
    ];
    for (const [label, tamper, message] of cases) assert.throws(() => exchange('bob', 'bobsecret', tamper), message, label);
    const s = server();
    const c = new DigestMd5ClientExchange({ mechanism: 'DIGEST-MD5', username: 'bob', password: 'bobsecret' });
    const last = s.evaluate(c.evaluate(s.evaluate(c.initial()).reply)!);
    assert.equal(last.user, 'bob');
    assert.throws(() => s.evaluate(Buffer.alloc(0)), /already completed/);
  });

  test('the client refuses a server that does not know the password, and a server without SASL', () => {
    const s = server();
    const c = new DigestMd5ClientExchange({ mechanism: 'DIGEST-MD5', username: 'bob', password: 'bobsecret' });
    s.evaluate(c.initial());
    const impostor = new DigestMd5ClientExchange({ mechanism: 'DIGEST-MD5', username: 'bob', password: 'bobsecret' });
    impostor.evaluate(Buffer.from('realm="zk-sasl-md5",nonce="n",charset=utf-8,algorithm=md5-sess'));
    assert.throws(() => impostor.evaluate(Buffer.from('rspauth=00000000000000000000000000000000')), /did not prove/);
    assert.throws(() => new DigestMd5ClientExchange({ mechanism: 'DIGEST-MD5', username: 'u', password: 'p' }).evaluate(Buffer.alloc(0)), /sent no challenge/);
    assert.throws(() => new DigestMd5ClientExchange({ mechanism: 'GSSAPI' as 'DIGEST-MD5', username: 'u', password: 'p' }), /GSSAPI is not supported/);
  });
});

describe('configuration', () => {
  test('zoo.cfg keys: superUser(.N), sasl.serverconfig, superPassword and the SASL provider, without warnings', () => {
    const { config, warnings } = parseZooCfg([
      'authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider', 'superUser=root', 'zookeeper.superUser.2=admin',
      'sasl.serverconfig=ZkServer', 'SASLAuthenticationProvider.superPassword=s3cret', 'authProvider.2=org.example.Mine',
    ].join('\n'));
    assert.deepEqual(config.sasl, { provider: true, superUsers: ['root', 'admin'], section: 'ZkServer', superPassword: 's3cret' });
    assert.deepEqual(warnings, ['zoo.cfg: "authProvider.2" is recognised but not acted upon (Ensemble has no Kerberos, no pluggable authentication providers and no authentication enforcement): ignored']);
  });

  test('the JAAS file from SERVER_JVMFLAGS or JVMFLAGS, as zkServer.sh passes it', () => {
    assert.equal(jaasFileFromEnv({ SERVER_JVMFLAGS: '-Xmx1g -Djava.security.auth.login.config=/etc/zk/jaas.conf -Dx=y' }), '/etc/zk/jaas.conf');
    assert.equal(jaasFileFromEnv({ JVMFLAGS: '-Djava.security.auth.login.config="/a b/jaas.conf"' }), '/a b/jaas.conf');
    assert.equal(jaasFileFromEnv({ SERVER_JVMFLAGS: '-Xmx1g' }), undefined);
  });

  test('the server loads its users at start, and says what is wrong with the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sasl-unit-'));
    const file = join(dir, 'jaas.conf');
    writeFileSync(file, `ZkServer { ${DIGEST} required user_bob="b" user_super="from-file"; };`);
    assert.equal(SaslAuthenticator.load(undefined, randomBytes), undefined);
    assert.throws(() => SaslAuthenticator.load({ jaasFile: file }, randomBytes), /no JAAS configuration section named 'Server' was found \(sections: ZkServer\)/);
    assert.throws(() => SaslAuthenticator.load({ jaasFile: join(dir, 'missing') }, randomBytes), /cannot read the JAAS configuration/);
    const sasl = SaslAuthenticator.load({ jaasFile: file, section: 'ZkServer', superUsers: ['bob'], superPassword: 'override' }, randomBytes)!;
    assert.equal(sasl.userCount, 2);
    assert.deepEqual(sasl.identitiesOf('bob'), [{ scheme: 'sasl', id: 'bob' }, { scheme: 'super', id: '' }]);
    assert.deepEqual(sasl.identitiesOf('alice'), [{ scheme: 'sasl', id: 'alice' }]);
    // SASLAuthenticationProvider.superPassword replaces the file's password of the user "super".
    const s = sasl.exchange();
    const c = new DigestMd5ClientExchange({ mechanism: 'DIGEST-MD5', username: 'super', password: 'override' });
    assert.equal(s.evaluate(c.evaluate(s.evaluate(c.initial()).reply)!).user, 'super');
  });
});
