// Unit tests of the one redaction module and the terminal escaping: what counts as a secret, that redacting twice
// changes nothing, -H @FILE, and user:password in --url turned into Basic credentials by the request builder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveOptions } from '../src/engine/options.js';
import { RequestBuilder } from '../src/engine/request.js';
import { parseHeaders } from '../src/options/parse.js';
import { redactArgv, redactHeaderArg, redactHeaders, redactUrls, REDACTED, redactText } from '../src/util/redact.js';
import { escapeControls, escapeJsonControls } from '../src/util/terminal-text.js';

describe('redaction', () => {
  test('the header names that hold secrets', () => {
    const names = ['Authorization', 'Proxy-Authorization', 'Cookie', 'X-Api-Key', 'X-Auth-Token', 'X-Client-Secret'];
    const given = Object.fromEntries([...names, 'X-Session', 'X-Password', 'Accept'].map((n) => [n, 'v']));
    const shown = redactHeaders(given);
    expect(Object.entries(shown).filter(([, v]) => v === 'v')).toEqual([['Accept', 'v']]);
  });

  test('redacting twice changes nothing', () => {
    const once = redactUrls('POST https://u:p@h/o?token=t&a=1: no answer; see https://h/?key=k.');
    expect(redactUrls(once)).toBe(once);
    expect(once).toBe(
      `POST https://u:${REDACTED}@h/o?token=${REDACTED}&a=1: no answer; see https://h/?key=${REDACTED}.`,
    );
    expect(redactUrls('https://h/?token=<hidden>: x', '<hidden>')).toBe('https://h/?token=<hidden>: x');
  });

  test('a token alone before @ is all secret', () => {
    expect(redactUrls('https://ghp_abc@github.example/x')).toBe(`https://${REDACTED}@github.example/x`);
  });

  test('-H arguments: a header file stays, a mistyped secret header loses all but its first word', () => {
    expect(redactHeaderArg('@headers.txt')).toBe('@headers.txt');
    expect(redactHeaderArg('Authorization Bearer xyz')).toBe(`Authorization ${REDACTED}`);
    expect(redactHeaderArg('Accept */*')).toBe('Accept */*');
    expect(redactArgv(['-H', 'Cookie: a', '--url', 'https://h/?secret=s'], '<hidden>')).toEqual([
      '-H',
      'Cookie: <hidden>',
      '--url',
      'https://h/?secret=<hidden>',
    ]);
  });
});

describe('terminal text', () => {
  test('control characters are written out; plain text is returned as is', () => {
    expect(escapeControls('a\u001b[2Jb\u0007\u009b\t\n\u202e')).toBe('a\\x1b[2Jb\\x07\\x9b\\t\\n\\u202e');
    const plain = 'plain "text" é';
    expect(escapeControls(plain)).toBe(plain);
  });

  test('a JSON line keeps parsing to the same value', () => {
    const value = { id: 'x\u001b\u009b\u202ey' };
    const line = escapeJsonControls(JSON.stringify(value));
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\u001b\u009b\u202e]/);
    expect(JSON.parse(line)).toEqual(value);
  });
});

describe('-H @FILE', () => {
  test('one header per line; blank lines and # comments skipped; mixed with -H values', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchpost-h-'));
    const file = path.join(dir, 'h.txt');
    fs.writeFileSync(file, '# secrets\n\nAuthorization: Bearer T\r\n  X-A: 1  \n');
    expect(parseHeaders([`@${file}`, 'X-B: 2'])).toEqual({ Authorization: 'Bearer T', 'X-A': '1', 'X-B': '2' });
    fs.writeFileSync(file, 'Authorization Bearer T\n');
    expect(() => parseHeaders([`@${file}`])).toThrow(`--header "Authorization ${REDACTED}"`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('user:password in --url', () => {
  const record = { line: 1, value: { u: 'bob', n: 1 }, raw: '{"n":1}' };
  const basic = (pair: string) => `Basic ${Buffer.from(pair).toString('base64')}`;

  test('sent as Basic credentials, and out of the URL', () => {
    const req = new RequestBuilder(resolveOptions({ url: 'https://al%40ce:p%3Aw@h.example/o' })).build(
      record,
      '1',
      'POST',
    );
    expect(req.url).toBe('https://h.example/o');
    expect(req.headers.authorization).toBe(basic('al@ce:p:w'));
  });

  test('in a templated URL too', () => {
    const o = resolveOptions({ url: 'https://{{ u }}:pw@h.example/o/{{ n }}', headers: { 'X-A': '1' } });
    const req = new RequestBuilder(o).build(record, '1', 'POST');
    expect(req.url).toBe('https://h.example/o/1');
    expect(req.headers).toMatchObject({ authorization: basic('bob:pw'), 'X-A': '1' });
  });

  test('an Authorization header given wins', () => {
    const o = resolveOptions({ url: 'https://a:b@h.example/o', headers: { authorization: 'Bearer T' } });
    const req = new RequestBuilder(o).build(record, '1', 'POST');
    expect(req.url).toBe('https://h.example/o');
    expect(req.headers.authorization).toBe('Bearer T');
  });
});

describe('redactText: messages that echo a command line', () => {
  test('credential tokens, secret headers and --option=value values go; plain words stay', () => {
    expect(redactText('--format "Bearer abc.def": expected one of ndjson')).toBe(
      '--format "Bearer [redacted]": expected one of ndjson',
    );
    expect(redactText(`argument 'Authorization: Basic dXNlcg==' is invalid`)).toBe(
      `argument 'Authorization: [redacted]' is invalid`,
    );
    expect(redactText("unknown option '--api-key=K3Y'")).toBe("unknown option '--api-key=[redacted]'");
    expect(redactText('token service said no; the token expired')).toBe('token service said no; the token expired');
    expect(redactText(redactText('Bearer x'))).toBe('Bearer [redacted]');
  });
});
