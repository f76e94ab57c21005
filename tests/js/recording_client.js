// A socket.io-client (the npm build frontends ship) that prints, one JSON line each,
// every connect (socket id, recovered), disconnect and event it sees.
// Usage: node recording_client.js <url> <token> <transport> [<more auth, as JSON>]
const { io } = require("socket.io-client");

const [url, token, transport, more] = process.argv.slice(2);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const socket = io(url, {
  auth: { token, ...JSON.parse(more || "{}") },
  transports: [transport],
  reconnectionDelay: 50,
  reconnectionDelayMax: 300,
});
socket.on("connect", () => print({ type: "connect", id: socket.id, recovered: socket.recovered }));
socket.on("disconnect", (reason) => print({ type: "disconnect", reason }));
socket.on("connect_error", (error) => print({ type: "connect_error", message: error.message }));
socket.onAny((event, ...args) => print({ type: "event", event, args }));
// Commands, one per line on stdin: `disconnect`, `connect`, `token <jwt>`, `drop`
// (close the transport, as the client does when it finds its connection dead), and
// `emit <event> <json without spaces>` (its acknowledgement is printed).
const commands = { disconnect: () => socket.disconnect(), connect: () => socket.connect(),
                   drop: () => socket.io.engine.close(),
                   emit: (event, json) => socket.emit(event, JSON.parse(json), (ack) =>
                     print({ type: "ack", event, ack })),
                   token: (value) => { socket.auth.token = value; } };
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  const lines = pending.split("\n");
  pending = lines.pop();
  for (const line of lines) {
    const [name, ...values] = line.split(" ");
    commands[name](...values);
    print({ type: "done", command: name });
  }
});
process.stdin.on("end", () => process.exit(0));
