/*
 * webrtc-video client library, served at /api/client.js.
 *
 * Records the browser's camera and microphone on a webrtc-video server
 * through its recorder protocol (docs/protocol.md, /api/recorder).  Plain
 * ES2017, no dependencies, no build step; current Chrome and Firefox.
 *
 *   <script src="https://video.example.com/api/client.js"></script>
 *   const rec = new WebrtcVideo.Recorder({preview: videoElement});
 *   rec.addEventListener('uploaded', e => console.log(e.detail.videoUrl));
 *   await rec.start();            // resolves once media flows to the server
 *   const {videoUrl, key} = await rec.stop();
 *
 * Options (all optional):
 *   url          the recorder websocket; default: "recorder" next to this
 *                script's own URL, ws: or wss: like the script (so a server
 *                behind a reverse proxy under a path prefix just works)
 *   stream       a MediaStream to record instead of asking getUserMedia
 *   constraints  getUserMedia constraints (default {audio: true, video: true})
 *   preview      a <video> element that shows what is recorded (muted)
 *   loopback     true, or a <video> element: the server sends the media back
 *                as it receives it (seed 002's loopback); the element plays it
 *                (mute it, or the microphone's own sound comes back)
 *   iceServers   RTCPeerConnection iceServers (default none)
 *   rtcConfig    more RTCPeerConnection configuration, merged in
 *   timeoutMs    how long start() and stop() may take (default 20000)
 *
 * Events (an EventTarget; the payload is event.detail):
 *   state     {state}: idle, connecting, recording, stopping, done, error, closed
 *   started   {}
 *   uploaded  {videoUrl, key}
 *   error     {message}
 *   peerconnection {pc}: the RTCPeerConnection, its transceivers added,
 *             before the offer (to set codec preferences, transforms, ...)
 *   track     {track, streams, receiver}: a loopback track arrived
 * rec.pc is the RTCPeerConnection (for getStats()).  close() ends everything
 * without waiting; a recording in progress is still kept by the server.
 */
(function (global) {
  'use strict';

  // Taken while this script runs: document.currentScript is null later.
  const SCRIPT_URL = (global.document && document.currentScript && document.currentScript.src) || '';

  function defaultUrl() {
    const base = SCRIPT_URL || global.location.href;
    const url = new URL('recorder', base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = '';
    url.hash = '';
    return url.href;
  }

  function stopTracks(stream) {
    for (const track of stream.getTracks())
      track.stop();
  }

  function deferred() {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return {promise, resolve, reject};
  }

  class Recorder extends EventTarget {
    constructor(options) {
      super();
      this.options = Object.assign({constraints: {audio: true, video: true}, timeoutMs: 20000},
                                   options || {});
      this.url = this.options.url || defaultUrl();
      this.state = 'idle';
      this.pc = null;
      this.ws = null;
      this.stream = null;
      this.ownStream = false;  // ours to stop: we asked getUserMedia for it
      this.startSent = false;
      this.remoteSet = false;
      this.unsentCandidates = [];
      this.remoteCandidates = [];
      this.pending = null;     // {what, d, timer}: start() or stop() in flight
      this.attempt = 0;        // counts start() calls: an older one's open() stands down
      this.loopbackStream = null;
    }

    on(name, fn) {
      this.addEventListener(name, e => fn(e.detail));
      return this;
    }

    emit(name, detail) {
      this.dispatchEvent(new CustomEvent(name, {detail: detail || {}}));
    }

    setState(state) {
      if (this.state === state)
        return;
      this.state = state;
      this.emit('state', {state});
    }

    // ---- the two public steps ----

    start() {
      if (this.state !== 'idle' && this.state !== 'done' && this.state !== 'error' &&
          this.state !== 'closed')
        return Promise.reject(new Error(`start: already ${this.state}`));
      this.reset();
      this.setState('connecting');
      const p = this.expect('start');
      const attempt = ++this.attempt;
      this.open(attempt).catch(e => {
        if (attempt === this.attempt)  // not an abandoned attempt's late failure
          this.fail(e.message || String(e));
      });
      return p;
    }

    stop() {
      if (this.state !== 'recording' && this.state !== 'connecting')
        return Promise.reject(new Error(`stop: not recording (${this.state})`));
      if (this.pending && this.pending.what === 'start')
        this.settle(new Error('stopped before the recording started'));
      if (!this.startSent) {  // nothing reached the server: nothing to finish
        this.teardown();
        this.setState('closed');
        return Promise.reject(new Error('stopped before the recording started'));
      }
      this.setState('stopping');
      const p = this.expect('stop');
      this.send({id: 'stop'});
      return p;
    }

    close() {
      this.settle(new Error('closed'));
      this.teardown();
      this.setState('closed');
    }

    // ---- internals ----

    reset() {
      this.startSent = false;
      this.remoteSet = false;
      this.unsentCandidates = [];
      this.remoteCandidates = [];
    }

    expect(what) {
      const d = deferred();
      const timer = setTimeout(() => this.fail(`${what}: no answer within ${this.options.timeoutMs} ms`),
                               this.options.timeoutMs);
      this.pending = {what, d, timer};
      return d.promise;
    }

    // Resolve (value) or reject (Error) what start()/stop() returned.
    settle(value) {
      const p = this.pending;
      if (!p)
        return;
      this.pending = null;
      clearTimeout(p.timer);
      if (value instanceof Error)
        p.d.reject(value);
      else
        p.d.resolve(value);
    }

    fail(message) {
      if (this.state === 'closed')
        return;
      this.setState('error');
      this.emit('error', {message});
      this.settle(new Error(message));
      this.teardown();
    }

    send(msg) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN)
        this.ws.send(JSON.stringify(msg));
    }

    // The stream to record: the caller's, or the camera's (then ours to stop).
    async media() {
      if (this.options.stream)
        return {stream: this.options.stream, own: false};
      return {stream: await navigator.mediaDevices.getUserMedia(this.options.constraints),
              own: true};
    }

    showPreview() {
      const preview = this.options.preview;
      if (preview) {
        preview.muted = true;
        preview.playsInline = true;
        preview.srcObject = this.stream;
        preview.play().catch(() => {});
      }
    }

    makePeerConnection() {
      const pc = new RTCPeerConnection(Object.assign({iceServers: this.options.iceServers || []},
                                                     this.options.rtcConfig || {}));
      const loopback = !!this.options.loopback;
      for (const track of this.stream.getTracks())
        pc.addTransceiver(track, {direction: loopback ? 'sendrecv' : 'sendonly',
                                  streams: [this.stream]});
      pc.onicecandidate = event => {
        // Every candidate the browser gives, Firefox's per-m-line "" end
        // markers included (as kurento-utils does); not the final null.
        if (!event.candidate)
          return;
        const c = event.candidate.toJSON();
        if (this.startSent)
          this.send({id: 'onIceCandidate', candidate: c});
        else
          this.unsentCandidates.push(c);
      };
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === 'connected' && this.state === 'connecting') {
          this.setState('recording');
          this.emit('started');
          this.settle({});
        } else if (pc.connectionState === 'failed' && this.state !== 'stopping') {
          this.fail('the media connection failed (ICE or DTLS)');
        }
      };
      pc.ontrack = event => {
        // A new stream each time: a <video> does not reliably notice a track
        // added to the stream it already plays.
        const tracks = this.loopbackStream ? this.loopbackStream.getTracks() : [];
        this.loopbackStream = new MediaStream(tracks.concat([event.track]));
        const el = this.options.loopback;
        if (el && typeof el === 'object' && 'srcObject' in el) {
          el.playsInline = true;
          el.srcObject = this.loopbackStream;
          el.play().catch(() => {});
        }
        this.emit('track', {track: event.track, streams: event.streams, receiver: event.receiver});
      };
      this.emit('peerconnection', {pc});
      return pc;
    }

    // Still the attempt start() began?  (stop() or close() may have ended it
    // while we waited for the camera or the server, and start() begun
    // another, which owns this.pc, this.ws and this.stream.)
    abandoned(attempt) {
      if (attempt !== this.attempt)
        return true;
      if (this.state === 'connecting')
        return false;
      this.teardown();
      return true;
    }

    async open(attempt) {
      const {stream, own} = await this.media();
      if (attempt !== this.attempt) {
        if (own)
          stopTracks(stream);
        return;
      }
      this.stream = stream;
      this.ownStream = own;
      if (this.abandoned(attempt))
        return;
      this.showPreview();
      this.pc = this.makePeerConnection();
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onmessage = event => this.onMessage(event.data).catch(e => this.fail(String(e)));
      ws.onclose = event => {
        if (this.ws !== ws)
          return;
        this.ws = null;
        if (this.state === 'connecting' || this.state === 'recording' || this.state === 'stopping')
          this.fail(`the server closed the connection (code ${event.code})`);
      };
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error(`cannot connect to ${this.url}`));
      });
      ws.onerror = null;
      if (this.abandoned(attempt))
        return;
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      if (this.abandoned(attempt))
        return;
      const start = {id: 'start', sdpOffer: this.pc.localDescription.sdp};
      if (this.options.loopback)
        start.loopback = true;
      this.send(start);
      this.startSent = true;
      for (const c of this.unsentCandidates.splice(0))
        this.send({id: 'onIceCandidate', candidate: c});
    }

    async addRemoteCandidate(c) {
      if (!c.candidate) {
        // end of candidates; an older browser may refuse it: harmless
        await this.pc.addIceCandidate().catch(() => {});
        return;
      }
      await this.pc.addIceCandidate({candidate: c.candidate, sdpMid: c.sdpMid,
                                     sdpMLineIndex: c.sdpMLineIndex});
    }

    async onMessage(data) {
      let msg;
      try {
        msg = JSON.parse(data);
      } catch (e) {
        this.fail('the server sent something that is not JSON');
        return;
      }
      switch (msg.id) {
      case 'startResponse':
        await this.pc.setRemoteDescription({type: 'answer', sdp: msg.sdpAnswer});
        this.remoteSet = true;
        for (const c of this.remoteCandidates.splice(0))
          await this.addRemoteCandidate(c);
        break;
      case 'iceCandidate':
        if (this.remoteSet)
          await this.addRemoteCandidate(msg.candidate);
        else
          this.remoteCandidates.push(msg.candidate);
        break;
      case 'uploadSuccess': {
        const result = {videoUrl: msg.videoUrl, key: msg.key};
        this.setState('done');
        this.emit('uploaded', result);
        this.settle(result);
        this.teardown();
        break;
      }
      case 'error':
        this.fail(msg.message || 'error');
        break;
      default:
        break;  // newer servers may say more
      }
    }

    teardown() {
      if (this.pc) {
        this.pc.close();
        this.pc = null;
      }
      if (this.ws) {
        const ws = this.ws;
        this.ws = null;
        ws.close();
      }
      if (this.stream && this.ownStream)
        stopTracks(this.stream);
      this.stream = null;
      this.loopbackStream = null;
    }
  }

  global.WebrtcVideo = {Recorder, defaultUrl, version: '1'};
})(typeof window !== 'undefined' ? window : globalThis);
