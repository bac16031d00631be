// Socket-free tests of the permessage-deflate negotiation (RFC 7692 §5–§7) and of the
// Sec-WebSocket-Extensions grammar (RFC 6455 §9.1): header values in, parameters and exact header values
// out. The client's offer, the server's choice among several offers (declining the invalid ones), and the
// client's check of the answer against its offer, parameter by parameter.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  acceptDeflateAnswer,
  answerDeflateOffers,
  DeflateNegotiationError,
  deflateOffer,
  deflateOptionsProblem,
  ExtensionHeaderError,
  formatExtensionHeader,
  parseExtensionHeader,
  type DeflateParameters,
  type PerMessageDeflateOptions,
} from '../../src/protocol/index.js';

const UNLIMITED: DeflateParameters = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

void describe('parseExtensionHeader (RFC 6455 §9.1)', () => {
  void it('reads extensions, parameters with and without values, in order', () => {
    assert.deepEqual(
      parseExtensionHeader('permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-other'),
      [
        {
          name: 'permessage-deflate',
          params: [
            { name: 'client_max_window_bits', value: undefined },
            { name: 'server_max_window_bits', value: '10' },
          ],
        },
        { name: 'x-other', params: [] },
      ],
    );
  });

  void it('takes whitespace around separators, empty list elements, and several header lines', () => {
    const expected = [
      { name: 'a', params: [{ name: 'b', value: 'c' }] },
      { name: 'd', params: [] },
    ];
    assert.deepEqual(parseExtensionHeader(' a ;\tb = c ,, d ,'), expected);
    assert.deepEqual(parseExtensionHeader(['a; b=c', 'd']), expected);
    assert.deepEqual(parseExtensionHeader(''), []);
    assert.deepEqual(parseExtensionHeader(undefined), []);
  });

  void it('unescapes quoted values', () => {
    assert.deepEqual(parseExtensionHeader('e; p="1\\0"; q="a,b;c"'), [
      {
        name: 'e',
        params: [
          { name: 'p', value: '10' },
          { name: 'q', value: 'a,b;c' },
        ],
      },
    ]);
  });

  void it('refuses what the grammar does not allow, with the place it went wrong', () => {
    for (const bad of [
      'permessage-deflate;',
      'permessage-deflate; =10',
      'permessage-deflate; a=',
      'permessage-deflate; a="10',
      'permessage-deflate; a="\\',
      'permessage-deflate; a="\u0001"',
      'a b',
      '; a',
      'a, =',
      'a; b=c d',
      'per/message',
    ]) {
      assert.throws(() => parseExtensionHeader(bad), ExtensionHeaderError, bad);
    }
    assert.throws(() => parseExtensionHeader('a; b=c d'), /expected ',' at offset 7/);
  });

  void it('writes elements back in the canonical form', () => {
    const header = 'permessage-deflate; client_max_window_bits; server_max_window_bits=10, x';
    assert.equal(formatExtensionHeader(parseExtensionHeader(header)), header);
    assert.equal(formatExtensionHeader(parseExtensionHeader('  a ;b= "9" ')), 'a; b=9');
  });
});

void describe('deflateOptionsProblem', () => {
  void it('accepts true, false and valid settings', () => {
    for (const good of [
      true,
      false,
      {},
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 8,
        clientMaxWindowBits: 15,
        threshold: 0,
        memLevel: 9,
      },
    ]) {
      assert.equal(deflateOptionsProblem(good), undefined);
    }
  });

  void it('refuses anything else, naming the setting', () => {
    const cases: [unknown, RegExp][] = [
      [null, /true, false or an object/],
      ['yes', /true, false or an object/],
      [{ serverMaxWindowBits: 7 }, /serverMaxWindowBits.*8 to 15/],
      [{ clientMaxWindowBits: 16 }, /clientMaxWindowBits.*8 to 15/],
      [{ clientMaxWindowBits: 9.5 }, /clientMaxWindowBits/],
      [{ serverNoContextTakeover: 1 }, /serverNoContextTakeover must be a boolean/],
      [{ threshold: -1 }, /threshold/],
      [{ memLevel: 0 }, /memLevel.*1 to 9/],
      [{ memLevel: 10 }, /memLevel/],
      [{ windowBits: 10 }, /no option 'windowBits'/],
    ];
    for (const [value, problem] of cases) assert.match(deflateOptionsProblem(value) ?? '', problem);
  });
});

void describe('deflateOffer (client, §7.1)', () => {
  void it('offers client_max_window_bits without a value by default', () => {
    assert.equal(deflateOffer({}), 'permessage-deflate; client_max_window_bits');
  });

  void it('asks for each parameter that is set', () => {
    assert.equal(
      deflateOffer({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 9,
        threshold: 5,
        memLevel: 4,
      }),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' +
        'server_max_window_bits=10; client_max_window_bits=9',
    );
    assert.equal(
      deflateOffer({ serverNoContextTakeover: false, clientNoContextTakeover: false }),
      'permessage-deflate; client_max_window_bits',
    );
  });
});

void describe('acceptDeflateAnswer (client, §5.1, §7.1)', () => {
  const parameters = (
    answer: string,
    options: PerMessageDeflateOptions = {},
  ): DeflateParameters | undefined => acceptDeflateAnswer(answer, options).deflate?.parameters;

  function refuses(answer: string, options: PerMessageDeflateOptions, problem: RegExp): void {
    assert.throws(
      () => acceptDeflateAnswer(answer, options),
      (error: unknown) => error instanceof DeflateNegotiationError && problem.test(error.message),
      `${answer} against ${JSON.stringify(options)}`,
    );
  }

  void it('turns compression off when the server answers nothing', () => {
    assert.deepEqual(acceptDeflateAnswer(undefined, {}), { extensions: '', deflate: undefined });
    assert.deepEqual(acceptDeflateAnswer(' ', {}), { extensions: '', deflate: undefined });
  });

  void it('takes a bare answer, with the local settings and their defaults', () => {
    assert.deepEqual(acceptDeflateAnswer('permessage-deflate', {}), {
      extensions: 'permessage-deflate',
      deflate: { parameters: UNLIMITED, threshold: 1024, memLevel: 8 },
    });
    assert.deepEqual(acceptDeflateAnswer('permessage-deflate', { threshold: 0, memLevel: 3 }).deflate, {
      parameters: UNLIMITED,
      threshold: 0,
      memLevel: 3,
    });
  });

  void it('takes every parameter a server may answer, even unasked (§7.1.1, §7.1.2)', () => {
    assert.deepEqual(
      parameters(
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' +
          'server_max_window_bits=8; client_max_window_bits=12',
      ),
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 8,
        clientMaxWindowBits: 12,
      },
    );
    assert.deepEqual(parameters('permessage-deflate; server_max_window_bits="9"'), {
      ...UNLIMITED,
      serverMaxWindowBits: 9,
    });
  });

  void it('keeps what the client promised itself: no context takeover, its own window limit', () => {
    assert.deepEqual(
      parameters('permessage-deflate', { clientNoContextTakeover: true, clientMaxWindowBits: 11 }),
      {
        ...UNLIMITED,
        clientNoContextTakeover: true,
        clientMaxWindowBits: 11,
      },
    );
    assert.deepEqual(
      parameters('permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: 11 }),
      {
        ...UNLIMITED,
        clientMaxWindowBits: 10,
      },
    );
  });

  void it('requires what was asked of the server to be answered within the limit', () => {
    refuses('permessage-deflate', { serverNoContextTakeover: true }, /server_no_context_takeover/);
    refuses('permessage-deflate', { serverMaxWindowBits: 10 }, /did not answer server_max_window_bits/);
    refuses(
      'permessage-deflate; server_max_window_bits=11',
      { serverMaxWindowBits: 10 },
      /over the 10 asked/,
    );
    refuses(
      'permessage-deflate; client_max_window_bits=12',
      { clientMaxWindowBits: 11 },
      /over the 11 offered/,
    );
    assert.deepEqual(
      parameters('permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 10 }),
      {
        ...UNLIMITED,
        serverMaxWindowBits: 10,
      },
    );
    assert.deepEqual(
      parameters('permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: true }),
      { ...UNLIMITED, serverNoContextTakeover: true },
    );
  });

  void it('fails on an invalid, duplicate or unknown parameter', () => {
    const cases: [string, RegExp][] = [
      ['permessage-deflate; server_max_window_bits', /server_max_window_bits needs a value/],
      ['permessage-deflate; client_max_window_bits', /client_max_window_bits needs a value/],
      ['permessage-deflate; server_max_window_bits=7', /"7" is not a whole number from 8 to 15/],
      ['permessage-deflate; server_max_window_bits=16', /from 8 to 15/],
      ['permessage-deflate; client_max_window_bits=08', /from 8 to 15/],
      ['permessage-deflate; client_max_window_bits=1e1', /from 8 to 15/],
      ['permessage-deflate; server_max_window_bits=99999999999999999999', /from 8 to 15/],
      ['permessage-deflate; server_no_context_takeover=1', /takes no value/],
      ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', /given twice/],
      ['permessage-deflate; server_max_window_bits=9; server_max_window_bits=9', /given twice/],
      ['permessage-deflate; mux', /unknown parameter mux/],
    ];
    for (const [answer, problem] of cases) refuses(answer, {}, problem);
  });

  void it('fails on more than one extension, another extension, or a header it cannot read', () => {
    refuses(
      'permessage-deflate, permessage-deflate',
      {},
      /not offered as such: permessage-deflate, permessage-deflate/,
    );
    refuses('x-webkit-deflate-frame', {}, /not offered/);
    refuses('permessage-deflate; ', {}, /expected a parameter name/);
  });
});

void describe('answerDeflateOffers (server, §5, §7.1)', () => {
  const answer = (offers: string | undefined, options: PerMessageDeflateOptions = {}): string =>
    answerDeflateOffers(offers, options).extensions;

  void it('accepts the offers browsers, ws and Python make, answering only what it must', () => {
    assert.deepEqual(answerDeflateOffers('permessage-deflate; client_max_window_bits', {}), {
      extensions: 'permessage-deflate',
      deflate: { parameters: UNLIMITED, threshold: 1024, memLevel: 8 },
    });
    assert.equal(answer('permessage-deflate'), 'permessage-deflate');
  });

  void it('agrees to what the client asks (§7.1.1.1, §7.1.2.1), and takes its promises', () => {
    const agreed = answerDeflateOffers(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' +
        'server_max_window_bits=10; client_max_window_bits=9',
      {},
    );
    assert.equal(
      agreed.extensions,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10',
    );
    assert.deepEqual(agreed.deflate?.parameters, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 9,
    });
  });

  void it('imposes its own settings, within what the client asked', () => {
    const options = {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 11,
    };
    assert.equal(
      answer('permessage-deflate; client_max_window_bits', options),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' +
        'server_max_window_bits=12; client_max_window_bits=11',
    );
    assert.equal(
      answer('permessage-deflate; server_max_window_bits=9; client_max_window_bits=10', options),
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; ' +
        'server_max_window_bits=9; client_max_window_bits=10',
    );
  });

  void it('takes window bits of 8 both ways (compressing with 9, whose matches stay within 256 bytes)', () => {
    const agreed = answerDeflateOffers(
      'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8',
      {},
    );
    assert.equal(agreed.extensions, 'permessage-deflate; server_max_window_bits=8');
    assert.deepEqual(agreed.deflate?.parameters, {
      ...UNLIMITED,
      serverMaxWindowBits: 8,
      clientMaxWindowBits: 8,
    });
  });

  void it('declines invalid offers and takes the first valid one, in the client’s order', () => {
    const offers = [
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; client_max_window_bits=7',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; server_no_context_takeover=yes',
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
      'permessage-deflate; unknown_parameter',
      'x-other; server_max_window_bits=10',
      'permessage-deflate; server_max_window_bits=11',
      'permessage-deflate',
    ].join(', ');
    assert.equal(answer(offers), 'permessage-deflate; server_max_window_bits=11');
  });

  void it('declines everything when no offer is valid, the header cannot be read, or nothing is offered', () => {
    const none = { extensions: '', deflate: undefined };
    assert.deepEqual(answerDeflateOffers('permessage-deflate; server_max_window_bits=0', {}), none);
    assert.deepEqual(answerDeflateOffers('permessage-deflate; a="', {}), none);
    assert.deepEqual(answerDeflateOffers('x-webkit-deflate-frame', {}), none);
    assert.deepEqual(answerDeflateOffers(undefined, {}), none);
  });

  void it('declines an offer that does not let it limit the client’s window when it must (its memory bound)', () => {
    assert.equal(answer('permessage-deflate', { clientMaxWindowBits: 10 }), '');
    assert.equal(
      answer('permessage-deflate, permessage-deflate; client_max_window_bits=12', {
        clientMaxWindowBits: 10,
      }),
      'permessage-deflate; client_max_window_bits=10',
    );
  });

  void it('is understood by the client that made the offer, for every combination of settings', () => {
    const choices: PerMessageDeflateOptions[] = [
      {},
      { serverNoContextTakeover: true },
      { clientNoContextTakeover: true },
      { serverMaxWindowBits: 8 },
      { serverMaxWindowBits: 12 },
      { clientMaxWindowBits: 9 },
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 10,
      },
    ];
    for (const client of choices) {
      for (const server of choices) {
        const agreed = answerDeflateOffers(deflateOffer(client), server);
        const accepted = acceptDeflateAnswer(agreed.extensions, client);
        assert.deepEqual(
          accepted.deflate?.parameters,
          agreed.deflate?.parameters,
          JSON.stringify({ client, server }),
        );
      }
    }
  });
});
