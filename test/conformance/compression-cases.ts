// The permessage-deflate cases (RFC 7692), in the categories of the Autobahn|Testsuite: 12 (compression
// of different payloads: JSON, a bitmap, German prose, HTML, a PDF-like file) and 13 (compression with
// different parameters: no context takeover, window bits 8 and 15, several offers). Each case sends many
// compressed messages, each after the echo of the one before, unfragmented or auto-fragmented into frames
// of a given number of compressed octets, and expects every echo back. Autobahn's payload files are not
// available here: the corpora are generated, deterministically, with the same character (text with and
// without non-ASCII letters, markup, smooth image rows, a mix of structure and incompressible streams).

import { Buffer } from 'node:buffer';

import { Op, type ConformanceCase, type Profile, type Reply } from './cases.js';

/** The compressed payload corpora of category 12 (Autobahn 12.1–12.5). */
export type Corpus = 'json' | 'bitmap' | 'prose' | 'html' | 'pdf';

/** permessage-deflate as a case negotiates it: the peer's offer as a client, its answer as a server. */
export interface DeflateNegotiation {
  /** Sec-WebSocket-Extensions the peer offers to our server. */
  offer: string;
  /** Sec-WebSocket-Extensions the peer answers our client with (our client offers permessage-deflate). */
  answer: string;
}

/** Autobahn's (payload size, auto-fragment size) pairs for categories 12 and 13; 0: no fragmentation. */
const SIZES: readonly [number, number][] = [
  [16, 0],
  [64, 0],
  [256, 0],
  [1024, 0],
  [4096, 0],
  [8192, 0],
  [16384, 0],
  [32768, 0],
  [65536, 0],
  [131072, 0],
  [8192, 256],
  [16384, 256],
  [32768, 256],
  [65536, 256],
  [131072, 256],
  [131072, 1024],
  [131072, 4096],
  [131072, 32768],
];

const CORPORA: readonly { id: string; corpus: Corpus; text: boolean; description: string }[] = [
  { id: '12.1', corpus: 'json', text: true, description: 'a large JSON document (UTF-8)' },
  { id: '12.2', corpus: 'bitmap', text: false, description: 'a bitmap picture (binary)' },
  { id: '12.3', corpus: 'prose', text: true, description: 'German prose (UTF-8, non-ASCII)' },
  { id: '12.4', corpus: 'html', text: true, description: 'a large HTML file (UTF-8)' },
  { id: '12.5', corpus: 'pdf', text: false, description: 'a PDF-like file (binary, partly incompressible)' },
];

const DEFAULT_OFFER: DeflateNegotiation = { offer: 'permessage-deflate', answer: 'permessage-deflate' };

/** Autobahn 13.1–13.7: no context takeover and window bits, asked of our side and promised by the peer. */
const PARAMETERS: readonly { id: string; description: string; negotiation: DeflateNegotiation }[] = [
  { id: '13.1', description: 'the default offer', negotiation: DEFAULT_OFFER },
  {
    id: '13.2',
    description: 'no context takeover, both ways',
    negotiation: {
      offer: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
      answer: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    },
  },
  {
    id: '13.3',
    description: 'window bits 8, both ways',
    negotiation: {
      offer: 'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8',
      answer: 'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8',
    },
  },
  {
    id: '13.4',
    description: 'window bits 15, both ways',
    negotiation: {
      offer: 'permessage-deflate; server_max_window_bits=15; client_max_window_bits=15',
      answer: 'permessage-deflate; server_max_window_bits=15; client_max_window_bits=15',
    },
  },
  {
    id: '13.5',
    description: 'no context takeover and window bits 8, both ways',
    negotiation: {
      offer:
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8',
      answer:
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8',
    },
  },
  {
    id: '13.6',
    description: 'no context takeover and window bits 15, both ways',
    negotiation: {
      offer:
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15',
      answer:
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15',
    },
  },
  {
    id: '13.7',
    description: 'three offers (the first to be taken), or the most restrictive answer',
    negotiation: {
      offer:
        'permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8, ' +
        'permessage-deflate; server_no_context_takeover, permessage-deflate',
      answer:
        'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8',
    },
  },
];

/** Messages per case: Autobahn's 1000, or 5 in the quick profile. */
function messageCount(profile: Profile): number {
  return profile === 'quick' ? 5 : 1000;
}

export function compressionCases(profile: Profile): ConformanceCase[] {
  const count = messageCount(profile);
  const cases: ConformanceCase[] = [];
  const add = (
    id: string,
    category: '12' | '13',
    corpus: Corpus,
    text: boolean,
    negotiation: DeflateNegotiation,
    what: string,
  ): void => {
    SIZES.forEach(([size, fragmentSize], index) => {
      const opcode = text ? Op.Text : Op.Binary;
      const fragments = fragmentSize === 0 ? 'unfragmented' : `auto-fragmented to ${fragmentSize} octets`;
      cases.push({
        id: `${id}.${index + 1}`,
        category,
        description: `Send ${count} compressed ${text ? 'text' : 'binary'} messages of ${size} bytes of ${what}, each after the echo of the one before, ${fragments}`,
        origin: 'autobahn',
        deflate: negotiation,
        steps: [{ kind: 'compressedRoundTrips', count, opcode, size, corpus, fragmentSize }],
        expect: {
          replies: Array.from({ length: count }, (_unused, message): Reply => ({
            kind: 'message',
            opcode,
            payload: compressedPayload(corpus, size, message),
          })),
          ending: { kind: 'normal' },
        },
        timeoutMs: profile === 'quick' ? 20_000 : 480_000,
      });
    });
  };
  for (const { id, corpus, text, description } of CORPORA)
    add(id, '12', corpus, text, DEFAULT_OFFER, description);
  for (const { id, description, negotiation } of PARAMETERS)
    add(id, '13', 'json', true, negotiation, `JSON with ${description}`);
  return cases;
}

// ---- payloads ---------------------------------------------------------------------------------------

const corpora = new Map<Corpus, Buffer>();

/** Message `index` of a compressed round-trip case: a slice of the corpus, cut at character boundaries. */
export function compressedPayload(corpus: Corpus, size: number, index: number): Buffer {
  let data = corpora.get(corpus);
  if (data === undefined) {
    data = buildCorpus(corpus);
    corpora.set(corpus, data);
  }
  const span = data.length - size;
  let start = Number((BigInt(index) * 2654435761n + 12345n) % BigInt(span));
  let end = start + size;
  // Text corpora are UTF-8: a slice never starts or ends inside a character (it may be 1–3 bytes short).
  while (start < end && (data[start]! & 0xc0) === 0x80) start++;
  while (end > start && end < data.length && (data[end]! & 0xc0) === 0x80) end--;
  return data.subarray(start, end);
}

/** A small deterministic generator (xorshift32), so that every run sends the same bytes. */
function generator(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

function buildCorpus(corpus: Corpus): Buffer {
  const random = generator(Buffer.from(corpus).reduce((seed, byte) => (seed * 31 + byte) >>> 0, 7));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  switch (corpus) {
    case 'json': {
      const records: string[] = [];
      for (let index = 0; records.join(',\n').length < 200_000; index++) {
        records.push(
          JSON.stringify({
            id: index,
            name: pick(['alpha', 'beta', 'gamma', 'delta', 'epsilon']) + String(index % 113),
            tags: [pick(['red', 'green', 'blue']), pick(['small', 'large'])],
            score: Math.round(random() * 100_000) / 100,
            active: random() < 0.5,
            address: {
              city: pick(['Berlin', 'Paris', 'Lisboa', 'Kraków']),
              zip: String(10_000 + index * 37),
            },
          }),
        );
      }
      return Buffer.from(`[${records.join(',\n')}]`, 'utf8');
    }
    case 'prose': {
      const words = [
        'Habe',
        'nun',
        'ach',
        'Philosophie',
        'Juristerei',
        'und',
        'Medizin',
        'leider',
        'auch',
        'Theologie',
        'durchaus',
        'studiert',
        'mit',
        'heißem',
        'Bemühn',
        'Da',
        'steh',
        'ich',
        'armer',
        'Tor',
        'bin',
        'so',
        'klug',
        'als',
        'wie',
        'zuvor',
        'Größe',
        'Gefühl',
        'Übermut',
        'schön',
        'Mädchen',
        'Würde',
      ];
      let text = '';
      while (Buffer.byteLength(text) < 220_000) {
        const line = Array.from({ length: 4 + Math.floor(random() * 6) }, () => pick(words)).join(' ');
        text += `${line}${pick([',', '.', '!', ';'])}\n`;
      }
      return Buffer.from(text, 'utf8');
    }
    case 'html': {
      let html = '<!doctype html>\n<html><head><title>Katalog</title></head><body>\n';
      for (let index = 0; html.length < 780_000; index++) {
        html += `<div class="item ${pick(['odd', 'even'])}" id="item-${index}"><h2>Artikel ${index}</h2>`;
        html += `<p>Preis: <span class="price">${(random() * 1000).toFixed(2)} €</span></p>`;
        html += `<a href="/artikel/${index}?ref=${pick(['home', 'search', 'mail'])}">mehr</a></div>\n`;
      }
      return Buffer.from(`${html}</body></html>\n`, 'utf8');
    }
    case 'bitmap': {
      const width = 512;
      const height = 512;
      const pixels = Buffer.alloc(width * height);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const shade = 128 + 100 * Math.sin(x / 37) * Math.cos(y / 53);
          pixels[y * width + x] = Math.max(0, Math.min(255, Math.round(shade + (random() - 0.5) * 12)));
        }
      }
      return Buffer.concat([Buffer.from('BM6\u0004\u0000\u0000\u0000\u0000', 'latin1'), pixels]);
    }
    case 'pdf': {
      const parts: Buffer[] = [Buffer.from('%PDF-1.4\n', 'latin1')];
      let length = 0;
      for (let object = 1; length < 1_000_000; object++) {
        const header = Buffer.from(
          `${object} 0 obj\n<< /Length 4096 /Filter /FlateDecode >>\nstream\n`,
          'latin1',
        );
        const stream = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(random() * 256)));
        const text = Buffer.from(`\nendstream\nendobj\n% ${'page content '.repeat(40)}\n`, 'latin1');
        parts.push(header, stream, text);
        length += header.length + stream.length + text.length;
      }
      return Buffer.concat(parts);
    }
  }
}
