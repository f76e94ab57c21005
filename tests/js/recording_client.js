// A socket.io-client (the npm build frontends ship) that prints, one JSON line each,
// every connect (socket id, recovered), disconnect and event it sees.
// Usage: node recording_client.js <url> <token> <transport>
const { io } = require("socket.io-client");

const [url, token, transport] = process.argv.slice(2);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const socket = io(url, {
  auth: { token },
  transports: [transport],
  reconnectionDelay: 50,
  reconnectionDelayMax: 300,
});
socket.on("connect", () => print({ type: "connect", id: socket.id, recovered: socket.recovered }));
socket.on("disconnect", (reason) => print({ type: "disconnect", reason }));
socket.on("connect_error", (error) => print({ type: "connect_error", message: error.message }));
socket.onAny((event, ...args) => print({ type: "event", event, args }));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
