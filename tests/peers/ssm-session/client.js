"use strict";
/*
 * A shell session through the third-party ssm-session client (npm), used as
 * its README shows: every message the agent sends is acknowledged, output
 * (PayloadType 1) is collected, keystrokes go out with ssm.sendText.
 *   node client.js STREAM_URL TOKEN  < script (one JSON array of
 *   [wait_for_regex, send_text] steps)
 * Prints one JSON line: {"output": ..., "types": [...], "closed": bool}.
 * Exits 0 when every step's pattern was seen, 2 on timeout.
 */
const WebSocket = require("ws");
const { ssm } = require("ssm-session");
const fs = require("fs");

const [url, token] = process.argv.slice(2);
const steps = JSON.parse(fs.readFileSync(0, "utf8"));
const dec = new TextDecoder();
const enc = new TextEncoder();
const term = { rows: 30, cols: 100 };
let output = "";
const types = [];
let step = 0;
let closed = false;

let finished = false;
function finish(code) {
  if (finished)
    return;
  finished = true;
  /* a pipe takes large writes asynchronously: exit once it has it all */
  process.stdout.write(JSON.stringify({ output, types, closed, step }) + "\n",
    () => process.exit(code));
}

function advance(ws) {
  while (step < steps.length && new RegExp(steps[step][0]).test(output)) {
    if (steps[step][1] !== null)
      ssm.sendText(ws, enc.encode(steps[step][1]));
    step++;
  }
}

const ws = new WebSocket(url);
ws.binaryType = "arraybuffer";
ws.on("open", () => ssm.init(ws, { token, termOptions: term }));
ws.on("message", (data, isBinary) => {
  if (!isBinary)
    return;
  const m = ssm.decode(data);
  types.push(m.messageType + ":" + m.payloadType);
  ssm.sendACK(ws, m);
  if (m.messageType === "output_stream_data" && m.payloadType === 1)
    output += dec.decode(m.payload);
  else if (m.payloadType === 17)
    ssm.sendInitMessage(ws, term);
  if (m.messageType === "channel_closed")
    closed = true;
  advance(ws);
});
ws.on("close", () => finish(step === steps.length ? 0 : 2));
ws.on("error", (e) => { output += "\n[ws error] " + e.message; finish(2); });
setTimeout(() => finish(2), 30000);
