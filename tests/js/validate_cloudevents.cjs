// Validates CloudEvents with the official JavaScript SDK (npm package `cloudevents`).
// Reads one structured CloudEvent (JSON) per line on stdin and writes one JSON line per event:
// {"valid": true, "type": ..., "dataschema": ..., "data_hex": ...} or
// {"valid": false, "errors": [...]}.
// scripts/test installs the SDK (tests/js/package-lock.json) with `npm ci`.
"use strict";

const { CloudEvent } = require("cloudevents");
const readline = require("node:readline");

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim() === "") {
    return;
  }
  let answer;
  try {
    // strict (the default): the SDK validates every attribute against the specification.
    const event = new CloudEvent(JSON.parse(line));
    answer = {
      valid: true,
      type: event.type,
      dataschema: event.dataschema,
      data_hex: Buffer.from(event.data_base64, "base64").toString("hex"),
    };
  } catch (err) {
    answer = {
      valid: false,
      errors: (err.errors || [String(err)]).map((e) =>
        typeof e === "string" ? e : JSON.stringify(e)
      ),
    };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
