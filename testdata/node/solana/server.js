// A loopback Solana JSON-RPC server over litesvm, the Solana runtime run
// in-process, for the tests of `git covenant settle anchor`.
//
// Every transaction sent is decoded by @solana/web3.js and its signatures
// checked there first (a transaction web3.js refuses is refused), then
// executed by litesvm (signature checks, fees, the real SPL memo program).
// Each executed transaction gets a slot of its own and the wall clock as
// its block time.
//
// Usage: node server.js [port]   (0 or none: any free port)
// Prints one JSON line, {"url": "http://127.0.0.1:<port>"}, once it listens;
// exits when its standard input closes, so it never outlives its test.
import http from "node:http";
import { createHash } from "node:crypto";
import { LiteSVM } from "litesvm";
import { address, getBase58Decoder, getBase58Encoder, getTransactionDecoder, lamports } from "@solana/kit";
import { Transaction, PublicKey } from "@solana/web3.js";
const bs58 = {
  encode: (b) => getBase58Decoder().decode(b),
  decode: (s) => getBase58Encoder().encode(s),
};

const svm = new LiteSVM();
let slot = 1n;
svm.warpToSlot(slot);
tick();

// The genesis hash names this chain: a fixed hash, not mainnet's.
const genesis = bs58.encode(createHash("sha256").update("git-covenant litesvm loopback").digest());
const txs = new Map(); // signature (base58) -> {slot, blockTime, wire, err, logs}

function tick() {
  const c = svm.getClock();
  c.slot = slot;
  c.unixTimestamp = BigInt(Math.floor(Date.now() / 1000));
  svm.setClock(c);
}

function nextSlot() {
  slot += 1n;
  svm.warpToSlot(slot);
  tick();
}

class RPCError extends Error {
  constructor(code, message, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

function ctx() {
  return { context: { slot: Number(slot) }, value: undefined };
}

function decodeWire(s, encoding) {
  if (typeof s !== "string") throw new RPCError(-32602, "invalid params: transaction is not a string");
  try {
    return encoding === "base64" ? Buffer.from(s, "base64") : Buffer.from(bs58.decode(s));
  } catch (e) {
    throw new RPCError(-32602, `invalid params: transaction is not ${encoding || "base58"}: ${e.message}`);
  }
}

function errText(r) {
  try {
    return r.toString();
  } catch {
    return String(r);
  }
}

function sendTransaction(params) {
  const [wire, cfg = {}] = params;
  const bytes = decodeWire(wire, cfg.encoding);
  // web3.js, on its own: decode the wire format and check every signature.
  let tx;
  try {
    tx = Transaction.from(bytes);
  } catch (e) {
    throw new RPCError(-32602, `invalid transaction: web3.js cannot decode it: ${e.message}`);
  }
  if (!tx.verifySignatures(true)) {
    throw new RPCError(-32003, "Transaction signature verification failure (web3.js)");
  }
  const sig = bs58.encode(tx.signature);
  if (txs.has(sig)) throw new RPCError(-32002, "Transaction simulation failed: This transaction has already been processed");
  // litesvm: the runtime executes it (its own signature check included).
  const decoded = getTransactionDecoder().decode(bytes);
  const r = svm.sendTransaction(decoded);
  if (typeof r.err === "function") {
    const meta = r.meta();
    throw new RPCError(-32002, `Transaction simulation failed: ${errText(r.err())}`, { logs: meta.logs() });
  }
  txs.set(sig, { slot, blockTime: Number(svm.getClock().unixTimestamp), wire: bytes, err: null, logs: r.logs() });
  nextSlot();
  return sig;
}

function requestAirdrop(params) {
  const [to, amount] = params;
  let pk;
  try {
    pk = new PublicKey(to);
  } catch (e) {
    throw new RPCError(-32602, `invalid params: ${e.message}`);
  }
  const r = svm.airdrop(address(pk.toBase58()), lamports(BigInt(amount)));
  if (!r || typeof r.err === "function") throw new RPCError(-32002, `airdrop failed: ${r ? errText(r.err()) : "no result"}`);
  const sig = bs58.encode(r.signature());
  txs.set(sig, { slot, blockTime: Number(svm.getClock().unixTimestamp), wire: null, err: null, logs: r.logs() });
  nextSlot();
  return sig;
}

const methods = {
  getHealth: () => "ok",
  getVersion: () => ({ "solana-core": "litesvm-1.4.1", "feature-set": 0 }),
  getGenesisHash: () => genesis,
  getSlot: () => Number(slot),
  getLatestBlockhash: () => ({ ...ctx(), value: { blockhash: svm.latestBlockhash(), lastValidBlockHeight: Number(slot) + 150 } }),
  getBalance: ([pk]) => ({ ...ctx(), value: Number(svm.getBalance(address(new PublicKey(pk).toBase58())) ?? 0n) }),
  requestAirdrop,
  sendTransaction,
  getSignatureStatuses: ([sigs]) => ({
    ...ctx(),
    value: (sigs || []).map((s) => {
      const t = txs.get(s);
      return t ? { slot: Number(t.slot), confirmations: null, err: t.err, confirmationStatus: "finalized" } : null;
    }),
  }),
  getTransaction: ([sig, cfg = {}]) => {
    const t = txs.get(sig);
    if (!t || !t.wire) return null;
    const enc = typeof cfg === "string" ? cfg : cfg.encoding || "json";
    if (enc !== "base64") throw new RPCError(-32602, `invalid params: this server returns transactions as base64 only (asked ${enc})`);
    return {
      slot: Number(t.slot),
      blockTime: t.blockTime,
      transaction: [t.wire.toString("base64"), "base64"],
      meta: { err: t.err, fee: 5000, logMessages: t.logs, status: { Ok: null } },
    };
  },
  getBlockTime: ([s]) => {
    for (const t of txs.values()) if (Number(t.slot) === Number(s)) return t.blockTime;
    return null;
  },
};

function handle(req) {
  const id = req && "id" in req ? req.id : null;
  if (!req || req.jsonrpc !== "2.0" || typeof req.method !== "string") {
    return { jsonrpc: "2.0", id, error: { code: -32600, message: "invalid request" } };
  }
  const m = methods[req.method];
  if (!m) return { jsonrpc: "2.0", id, error: { code: -32601, message: `Method not found: ${req.method}` } };
  try {
    return { jsonrpc: "2.0", id, result: m(req.params || []) };
  } catch (e) {
    const error = { code: e.code || -32603, message: e.message };
    if (e.data) error.data = e.data;
    return { jsonrpc: "2.0", id, error };
  }
}

const server = http.createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(405).end();
    return;
  }
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    let out;
    try {
      const msg = JSON.parse(body);
      out = Array.isArray(msg) ? msg.map(handle) : handle(msg);
    } catch (e) {
      out = { jsonrpc: "2.0", id: null, error: { code: -32700, message: `parse error: ${e.message}` } };
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(out));
  });
});

server.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }) + "\n");
});
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
