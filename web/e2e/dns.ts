// A tiny authoritative DNS server on loopback (UDP) for the browser tests:
// `pier serve --dns-resolver` asks it, so a test decides what a custom
// domain's records say (a TXT proof present or not) without the network.
// It answers TXT records the test set, and NXDOMAIN for every other name.
import { createSocket, type RemoteInfo } from 'node:dgram';

export interface FakeDNS {
  /** host:port to give `pier serve --dns-resolver`. */
  addr: string;
  /** Sets the TXT values of name (replacing any). */
  setTXT(name: string, ...values: string[]): void;
  /** Removes name's records. */
  clear(name: string): void;
  close(): Promise<void>;
}

const TYPE_TXT = 16;

/** Reads the question's name starting at off; the name and the offset after it. */
function readName(msg: Buffer, off: number): [string, number] {
  const labels: string[] = [];
  for (;;) {
    const len = msg[off];
    if (len === undefined) throw new Error('truncated name');
    if (len === 0) return [labels.join('.').toLowerCase(), off + 1];
    if (len >= 0xc0) throw new Error('compressed name in a question');
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
    off += 1 + len;
  }
}

/** The answer to query: TXT records of a known name, else NXDOMAIN. */
export function answer(query: Buffer, txt: Map<string, string[]>): Buffer {
  const id = query.readUInt16BE(0);
  const rd = query.readUInt16BE(2) & 0x0100;
  const [name, end] = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const values = txt.get(name);
  const answers: Buffer[] = [];
  if (values && qtype === TYPE_TXT) {
    for (const v of values) {
      const data = Buffer.from(v, 'utf8');
      const rdata = Buffer.concat([Buffer.from([data.length]), data]);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the question's name
      rr.writeUInt16BE(TYPE_TXT, 2);
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(1, 6); // TTL 1 s
      rr.writeUInt16BE(rdata.length, 10);
      answers.push(rr, rdata);
    }
  }
  // QR, AA, RA; NXDOMAIN for an unknown name, NOERROR (maybe empty) for a known one.
  const rcode = values ? 0 : 3;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x8000 | 0x0400 | rd | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(values && qtype === TYPE_TXT ? values.length : 0, 6);
  return Buffer.concat([header, question, ...answers]);
}

export async function startDNS(): Promise<FakeDNS> {
  const txt = new Map<string, string[]>();
  const sock = createSocket('udp4');
  sock.on('message', (msg: Buffer, from: RemoteInfo) => {
    try {
      sock.send(answer(msg, txt), from.port, from.address);
    } catch {
      // A malformed query gets no answer.
    }
  });
  await new Promise<void>((ok) => sock.bind(0, '127.0.0.1', ok));
  const { port } = sock.address();
  return {
    addr: `127.0.0.1:${port}`,
    setTXT: (name, ...values) => txt.set(name.toLowerCase(), values),
    clear: (name) => void txt.delete(name.toLowerCase()),
    close: () => new Promise((ok) => sock.close(() => ok())),
  };
}
