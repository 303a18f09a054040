// tests/unit/test_client_js.mjs - master/www/client.js's own state machine,
// in Node with stand-ins for the browser's getUserMedia, WebSocket and
// RTCPeerConnection (the browser tests in tests/browser/ record for real).
// TAP output.
//
//   node tests/unit/test_client_js.mjs master/www/client.js
//
// restart: close() while the camera is still being asked for, then start()
// again: when the first camera answer comes late, its tracks are stopped and
// it neither replaces the new attempt's stream nor opens a websocket; the
// new attempt goes on to send its start.
import fs from 'node:fs';
import vm from 'node:vm';

const source = fs.readFileSync(process.argv[2], 'utf8');
let failed = 0, n = 0;
function ok(cond, what) {
  n++;
  if (!cond)
    failed++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${what}`);
}

function fakeStream(name) {
  const track = {kind: 'video', stopped: false, stop() { this.stopped = true; }};
  return {name, track, getTracks: () => [track]};
}

const sockets = [];
class FakeWebSocket {
  static OPEN = 1;
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    sockets.push(this);
    setTimeout(() => { this.readyState = 1; this.onopen && this.onopen(); }, 0);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = 3; }
}

class FakePeerConnection {
  constructor() { this.localDescription = null; }
  addTransceiver() {}
  async createOffer() { return {type: 'offer', sdp: 'v=0\r\n'}; }
  async setLocalDescription(d) { this.localDescription = d; }
  close() {}
}

const cameraAnswers = [];  // resolve functions, one per getUserMedia call
const window = {
  location: {href: 'http://server.test/api/client.js'},
  navigator: {mediaDevices: {getUserMedia: () => new Promise(r => cameraAnswers.push(r))}},
};
const context = vm.createContext({
  window, navigator: window.navigator, WebSocket: FakeWebSocket,
  RTCPeerConnection: FakePeerConnection, EventTarget, CustomEvent, URL, Promise,
  setTimeout, clearTimeout, MediaStream: class {}, console,
});
vm.runInContext(source, context);
const tick = () => new Promise(r => setTimeout(r, 5));

const rec = new window.WebrtcVideo.Recorder({url: 'ws://server.test/api/recorder'});
rec.on('error', () => {});
const first = rec.start();
first.catch(() => {});
await tick();
rec.close();
const second = rec.start();
second.catch(() => {});
await tick();
ok(cameraAnswers.length === 2, 'each start() asks for the camera');
const old = fakeStream('first'), fresh = fakeStream('second');
cameraAnswers[1](fresh);
await tick();
cameraAnswers[0](old);  // the abandoned attempt's camera answers last
await tick();
await tick();
ok(old.track.stopped, "the abandoned attempt's camera is released");
ok(!fresh.track.stopped, "the current attempt's camera keeps running");
ok(rec.stream === fresh, 'the current attempt records its own stream');
ok(sockets.length === 1, `one websocket, the current attempt's (${sockets.length} opened)`);
ok(sockets.length >= 1 && sockets[0].sent.some(m => m.id === 'start'),
   'the current attempt sent its start');
ok(rec.state === 'connecting', `still connecting (state ${rec.state})`);
rec.close();
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
