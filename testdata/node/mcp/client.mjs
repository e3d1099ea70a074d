// A real MCP client (the official TypeScript SDK) that Go tests drive:
//
//   node client.mjs '<config JSON>'
//
// config: {
//   "transport": "stdio" | "http",
//   "command": "...", "args": [...], "env": {...}, "cwd": "...",   // stdio
//   "url": "http://127.0.0.1:PORT/mcp", "headers": {...},          // http (streamable HTTP)
//   "steps": [ {"list": true} | {"tool": "name", "args": {...}} ]
// }
//
// It runs the steps in order over one session and prints one JSON object:
// {"server": {...}, "steps": [ {"tools": [{name, annotations}], "bytes": N}
//   | {"tool", "isError", "text", "structured"} ]}. A protocol error ends
// it with exit status 1 and the error on stderr. Used by
// mcpserver/clients_test.go over stdio; the gateway's tests reuse it over
// streamable HTTP.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const cfg = JSON.parse(process.argv[2] ?? "{}");

function transport() {
  if (cfg.transport === "http") {
    return new StreamableHTTPClientTransport(new URL(cfg.url), {
      requestInit: { headers: cfg.headers ?? {} },
    });
  }
  if (cfg.transport === "stdio") {
    return new StdioClientTransport({
      command: cfg.command,
      args: cfg.args ?? [],
      env: cfg.env,
      cwd: cfg.cwd,
      stderr: "inherit",
    });
  }
  throw new Error(`unknown transport ${cfg.transport}`);
}

const client = new Client({ name: "git-covenant-test", version: "1.0.0" });
await client.connect(transport());
const out = { server: client.getServerVersion(), steps: [] };
for (const step of cfg.steps ?? []) {
  if (step.list) {
    const res = await client.listTools();
    out.steps.push({
      tools: res.tools.map((t) => ({ name: t.name, annotations: t.annotations })),
      bytes: Buffer.byteLength(JSON.stringify(res)),
    });
    continue;
  }
  const res = await client.callTool({ name: step.tool, arguments: step.args ?? {} });
  out.steps.push({
    tool: step.tool,
    isError: res.isError === true,
    text: (res.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join(""),
    structured: res.structuredContent ?? null,
  });
}
await client.close();
process.stdout.write(JSON.stringify(out) + "\n");
